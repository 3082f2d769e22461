// Shared by this folder's tests: htpasswd text with {SHA} entries (no libcrypt needed).
import { HtpasswdFile } from "./htpasswd.ts";

/** `user:{SHA}...` lines for user/password pairs. */
export async function shaHtpasswd(users: Record<string, string>): Promise<string> {
  const lines: string[] = [];
  for (const [user, password] of Object.entries(users)) {
    const sum = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(password));
    lines.push(`${user}:{SHA}${new Uint8Array(sum).toBase64()}`);
  }
  return lines.join("\n") + "\n";
}

/** An in-memory htpasswd file of alice/alicepw, bob/bobpw, carol/carolpw. */
export async function testUsers(): Promise<HtpasswdFile> {
  return HtpasswdFile.fromText(
    await shaHtpasswd({ alice: "alicepw", bob: "bobpw", carol: "carolpw" }),
  );
}

/** `Basic ...` for user and password. */
export function basic(user: string, password: string): string {
  return `Basic ${new TextEncoder().encode(`${user}:${password}`).toBase64()}`;
}
