/**
 * The admin key every test server starts with (`--admin-key`), and the header that carries it.
 * Helpers attach it to every client; raw HTTP and grpc-js tests add `authHeaders()` themselves.
 */
export const TEST_ADMIN_KEY = "hk_test_admin_0123456789abcdefghijklmnopqrstuvwxyz";

export function authHeaders(key: string = TEST_ADMIN_KEY): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}
