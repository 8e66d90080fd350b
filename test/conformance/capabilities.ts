/**
 * What a registry under test supports beyond the checks every OCI registry must pass. Each flag guards
 * checks that CNCF Distribution 2.8 (Debian's docker-registry) cannot pass: parts the spec leaves
 * optional or unspecified, parts that arrived with distribution-spec v1.1 (which 2.8 predates), and two
 * known 2.8 non-conformances (sortedTags, outOfOrderChunkRejected). Each comment names the spec section.
 * The shared checks (all flags off) are validated by running them against Distribution too.
 */
export interface RegistryCapabilities {
  /**
   * "Listing Referrers" (end-12a/12b, "added in distribution-spec 1.1") and "Pushing Manifests with
   * Subject" (the `OCI-Subject` response header): a registry without the referrers API answers 404 and
   * clients fall back to the referrers tag schema ("Backwards Compatibility").
   */
  referrers: boolean;
  /**
   * "Pushing a blob monolithically › Single POST": registries MAY accept the blob in one
   * `POST ?digest=` (201); those that do not SHOULD answer 202 and a Location.
   */
  singlePostUpload: boolean;
  /**
   * "Content Management › Deleting tags": a registry MAY implement tag deletion; when it does not,
   * it answers 400 or 405.
   */
  tagDeletion: boolean;
  /**
   * "Content Discovery › Listing Tags": with `n`, a response has exactly n tags unless fewer exist or
   * a `Link` header is given, and the `Link` header (`rel="next"`) arrived with v1.1.
   */
  tagPagination: boolean;
  /**
   * "Content Discovery › Listing Tags": tags MUST be in lexical order (v1.0 said so too; Distribution
   * 2.8 lists them in storage-directory order, a known non-conformance fixed in Distribution 3).
   */
  sortedTags: boolean;
  /**
   * "Pushing a blob in chunks": a chunk uploaded out of order MUST get 416. Distribution 2.8 ignores
   * `Content-Range` on PATCH (its resumable state lives in the `_state` parameter of the Location), so
   * it answers 202 and appends; Distribution 3 added the check.
   */
  outOfOrderChunkRejected: boolean;
  /**
   * "Pulling manifests" gives the `<name>` grammar and "Error Codes" lists `NAME_INVALID`, but no
   * section says which status a name outside the grammar gets. Distribution 2.8's router answers a
   * plain-text 404 for those, and 500 UNKNOWN for a name over 255 characters; a registry with this
   * flag answers `400 NAME_INVALID` for both.
   */
  nameInvalidError: boolean;
  /**
   * "Pushing Manifests": `Docker-Content-Digest` MUST equal the digest the client pushed by, and
   * "Content Digests" (image-spec) registers sha512 beside sha256. Distribution 2.8 takes sha512 for
   * blobs but always hashes manifests with sha256, so a PUT by a sha512 reference is DIGEST_INVALID there.
   */
  sha512ManifestDigests: boolean;
  /**
   * "Pulling blobs": Range support is a SHOULD (RFC 9110); the spec defines no error body for 416,
   * so only a registry that promises the JSON error (`RANGE_INVALID`) on an unsatisfiable Range gets
   * that checked.
   */
  rangeErrorBody: boolean;
}

/** This project's registry: all of distribution-spec v1.1. */
export const FULL_V1_1: RegistryCapabilities = {
  referrers: true,
  singlePostUpload: true,
  tagDeletion: true,
  tagPagination: true,
  sortedTags: true,
  outOfOrderChunkRejected: true,
  nameInvalidError: true,
  sha512ManifestDigests: true,
  rangeErrorBody: true,
};
