/**
 * The container init's own entry module when ocibox runs from source (see self_command.ts):
 * only init's modules load.
 * @module
 */
import { runInit } from "./init.ts";

await runInit();
