import type { FieldMask } from "@bufbuild/protobuf/wkt";
import { echo, invalidArgument } from "../core/errors.ts";

/** The update_mask paths, checked against what may be updated; empty → `whenEmpty`. */
export function maskPaths<P extends string>(
  mask: FieldMask | undefined,
  allowed: readonly P[],
  whenEmpty: readonly P[] | "refuse",
): Set<P> {
  const paths = mask?.paths ?? [];
  if (paths.length === 0) {
    if (whenEmpty === "refuse") throw invalidArgument("update_mask", `name the fields to update, from: ${allowed.join(", ")}`);
    return new Set(whenEmpty);
  }
  const out = new Set<P>();
  paths.forEach((path, i) => {
    if (!(allowed as readonly string[]).includes(path))
      throw invalidArgument(`update_mask.paths[${i}]`, `"${echo(path)}" cannot be updated; allowed: ${allowed.join(", ")}`);
    out.add(path as P);
  });
  return out;
}
