// Worker threads do not inherit the main thread's TypeScript loader: register it here.
import { register } from "tsx/esm/api";

register();
const worker = await import("./worker.ts");
export default worker.default;
