import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";

export const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export const iso = (t: Timestamp | undefined): string => (t ? timestampDate(t).toISOString() : "-");

export const millis = (d: Duration | undefined): number => (d ? Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6) : 0);

/** One message as protobuf JSON. */
export function printJson<D extends DescMessage>(schema: D, message: MessageShape<D>): void {
  out(JSON.stringify(toJson(schema, message)));
}

/** A list as {"<key>": [...]}, each item in protobuf JSON. */
export function printJsonList<D extends DescMessage>(key: string, schema: D, items: readonly MessageShape<D>[]): void {
  out(JSON.stringify({ [key]: items.map((i) => toJson(schema, i)) }));
}
