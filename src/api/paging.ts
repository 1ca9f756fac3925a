import { decodePageToken, encodePageToken } from "../core/page-token.ts";
import { checkPageSize } from "../core/validation.ts";

export interface PageRequest {
  pageSize: number;
  pageToken: string;
}

/**
 * One page of a list RPC: validates page_size and page_token, fetches one row more than
 * asked to learn whether another page follows, and encodes the next token.
 */
export async function paginate<Row extends { id: string }, Out>(
  kind: string,
  req: PageRequest,
  fetch: (afterId: string | undefined, limit: number) => Promise<Row[]>,
  toProto: (row: Row) => Out,
): Promise<{ items: Out[]; nextPageToken: string }> {
  const limit = checkPageSize("page_size", req.pageSize);
  const after = decodePageToken("page_token", kind, req.pageToken);
  const rows = await fetch(after, limit + 1);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toProto),
    nextPageToken: rows.length > limit && last ? encodePageToken(kind, last.id) : "",
  };
}
