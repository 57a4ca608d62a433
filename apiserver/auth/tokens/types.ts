// Who a signed token speaks for, and the one interface that issues tokens (photon kubeconfig user, photon
// login, TokenRequest). Tokens are JWTs signed by the newest key in $PHOTON_HOME/pki/token-signing/ and
// verified by any key still there (tokens/keys.ts); every verification also checks the subject is still alive
// (a User not disabled nor deleted and re-created, a ServiceAccount with the same uid).
export type TokenSubject =
  | { kind: 'user'; name: string }
  | { kind: 'serviceaccount'; namespace: string; name: string; uid: string }
  | { kind: 'node'; name: string };

export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

export interface TokenIssuer {
  /** Signs a token for subject, valid for expirationSeconds (bounded by the issuer's maximum). */
  issue(subject: TokenSubject, expirationSeconds: number, audiences?: string[]): IssuedToken;
}
