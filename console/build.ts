// Builds the web console into console/dist: one hashed JS bundle, one hashed stylesheet, an icon
// and index.html naming them. Run with `npm run build:console`; npm install runs it via prepare.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const CONSOLE_DIR = new URL(".", import.meta.url).pathname;
export const DIST_DIR = join(CONSOLE_DIR, "dist");

/** The URL path the assets are served under (src/console/route.ts). */
const ASSETS_URL = "/console/assets/";

export async function buildConsole(outDir: string = DIST_DIR): Promise<{ files: string[] }> {
  const assetsDir = join(outDir, "assets");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(assetsDir, { recursive: true });

  const result = await build({
    entryPoints: [join(CONSOLE_DIR, "src/main.ts"), join(CONSOLE_DIR, "styles.css")],
    outdir: assetsDir,
    entryNames: "[name]-[hash]",
    bundle: true,
    format: "esm",
    target: ["es2022", "chrome110", "firefox110", "safari16"],
    minify: true,
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const script = outputs.find((f) => f.startsWith("main-") && f.endsWith(".js"));
  const styles = outputs.find((f) => f.startsWith("styles-") && f.endsWith(".css"));
  if (!script || !styles) throw new Error(`console build: missing outputs in ${outputs.join(", ")}`);

  const icon = readFileSync(join(CONSOLE_DIR, "icon.svg"));
  const iconName = `icon-${createHash("sha256").update(icon).digest("hex").slice(0, 8)}.svg`;
  writeFileSync(join(assetsDir, iconName), icon);

  const html = readFileSync(join(CONSOLE_DIR, "index.html"), "utf8")
    .replace("{{script}}", ASSETS_URL + script)
    .replace("{{styles}}", ASSETS_URL + styles)
    .replace("{{icon}}", ASSETS_URL + iconName);
  writeFileSync(join(outDir, "index.html"), html);
  return { files: ["index.html", ...[script, styles, iconName].map((f) => `assets/${f}`)] };
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) {
  const started = Date.now();
  const { files } = await buildConsole();
  console.log(`console built in ${Date.now() - started} ms: ${files.join(", ")}`);
}
