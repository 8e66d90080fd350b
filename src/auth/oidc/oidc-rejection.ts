/** Why an OIDC token was refused; the message is safe to show the client (it names a check, not a secret). */
export type OidcReason =
  | 'malformed'
  | 'untrusted_issuer'
  | 'alg_not_allowed'
  | 'bad_signature'
  | 'unknown_kid'
  | 'issuer_unavailable'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'no_policy';

export class OidcRejection extends Error {
  override name = 'OidcRejection';

  constructor(
    readonly reason: OidcReason,
    message: string,
  ) {
    super(message);
  }
}
