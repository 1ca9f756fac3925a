import { createAccount, createOperator, createUser, type KeyPair } from "@nats-io/nkeys";

/**
 * NATS decentralized auth for tests: an operator, one account with JetStream and one user,
 * as the server config lines that trust them and the user's .creds file. The JWTs are
 * signed here with nkeys (the same ed25519 scheme `nsc` uses).
 */
export interface NatsAuth {
  /** Lines for nats-server's config (operator mode, in-memory resolver). */
  serverConfig: string[];
  /** Contents of the user's credentials file (--nats-creds). */
  creds: string;
}

export function natsAuth(): NatsAuth {
  const operator = createOperator();
  const account = createAccount();
  // JetStream in operator mode needs a system account, even an idle one.
  const system = createAccount();
  const user = createUser();
  const unlimited = -1;
  const operatorJwt = signJwt(operator, operator, "hookline-test-operator", { type: "operator", version: 2 });
  const accountJwt = signJwt(operator, account, "hookline-test-account", {
    type: "account",
    version: 2,
    limits: {
      subs: unlimited,
      data: unlimited,
      payload: unlimited,
      imports: unlimited,
      exports: unlimited,
      wildcards: true,
      conn: unlimited,
      leaf: unlimited,
      // Storage limits are what turn JetStream on for the account.
      mem_storage: unlimited,
      disk_storage: unlimited,
      streams: unlimited,
      consumer: unlimited,
    },
    default_permissions: { pub: {}, sub: {} },
  });
  const systemJwt = signJwt(operator, system, "SYS", { type: "account", version: 2 });
  const userJwt = signJwt(account, user, "hookline", { type: "user", version: 2, pub: {}, sub: {}, subs: unlimited, data: unlimited, payload: unlimited });
  const seed = new TextDecoder().decode(user.getSeed());
  return {
    serverConfig: [
      `operator: "${operatorJwt}"`,
      `system_account: ${system.getPublicKey()}`,
      "resolver: MEMORY",
      `resolver_preload: { ${account.getPublicKey()}: "${accountJwt}", ${system.getPublicKey()}: "${systemJwt}" }`,
    ],
    creds: [
      "-----BEGIN NATS USER JWT-----",
      userJwt,
      "------END NATS USER JWT------",
      "",
      "-----BEGIN USER NKEY SEED-----",
      seed,
      "------END USER NKEY SEED------",
      "",
    ].join("\n"),
  };
}

function signJwt(issuer: KeyPair, subject: KeyPair, name: string, nats: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const claims = {
    jti: `${name}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject.getPublicKey(),
    nats,
  };
  const body = `${header}.${base64url(JSON.stringify(claims))}`;
  return `${body}.${Buffer.from(issuer.sign(new TextEncoder().encode(body))).toString("base64url")}`;
}

function base64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}
