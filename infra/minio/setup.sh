#!/usr/bin/env bash
# Prepare MinIO for dangan, one site at a time. Safe to run again (every step converges to the same state).
#
# For each 6-digit code in DANGAN_SITES:
#   bucket   dangan-<code>   object lock (which turns versioning on; it cannot be added to a bucket later)
#   default retention        DANGAN_MINIO_RETENTION_MODE for DANGAN_MINIO_DEFAULT_RETENTION_DAYS (0 clears it):
#                            a floor under the per-object retention dangan sets on masters (10..100 years)
#   lifecycle                old versions and expired delete markers under sites/<code>/derivatives/ only;
#                            masters, quarantine and transfer packages are never expired by a rule
#   user     dangan-<code>   secret from DANGAN_S3_SECRET_KEY_<code>; policy dangan-site-<code> from
#                            policy-site.json.tmpl reaches this bucket only and denies governance bypass
#
# Needs only bash and mc. Environment (see infra/.env.example and site-credentials.env.example):
#   MINIO_URL (default http://minio:9000), MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, DANGAN_SITES,
#   DANGAN_S3_SECRET_KEY_<code> (and optionally DANGAN_S3_ACCESS_KEY_<code>, default dangan-<code>),
#   DANGAN_MINIO_RETENTION_MODE (GOVERNANCE), DANGAN_MINIO_DEFAULT_RETENTION_DAYS (1),
#   DANGAN_MINIO_DERIVATIVE_NONCURRENT_DAYS (30).
# Secrets are never printed. Never run this with `bash -x`: mc receives them as arguments.
set -euo pipefail

die() {
  printf 'minio-setup: %s\n' "$*" >&2
  exit 1
}
say() { printf 'minio-setup: %s\n' "$*"; }

here=${BASH_SOURCE[0]%/*}
[[ $here == "${BASH_SOURCE[0]}" ]] && here=.
policy_template="$here/policy-site.json.tmpl"
lifecycle_template="$here/lifecycle-site.json.tmpl"
[[ -r $policy_template && -r $lifecycle_template ]] || die "templates not found next to $0"

: "${MINIO_ROOT_USER:?MINIO_ROOT_USER is not set}"
: "${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD is not set}"
: "${DANGAN_SITES:?DANGAN_SITES is not set (space-separated 6-digit site codes)}"
minio_url=${MINIO_URL:-http://minio:9000}
mode=${DANGAN_MINIO_RETENTION_MODE:-GOVERNANCE}
retention_days=${DANGAN_MINIO_DEFAULT_RETENTION_DAYS:-1}
noncurrent_days=${DANGAN_MINIO_DERIVATIVE_NONCURRENT_DAYS:-30}
alias_name=dangan-admin

# --- validate everything before touching the server -----------------------------------------------------
mode=${mode^^}
[[ $mode == GOVERNANCE || $mode == COMPLIANCE ]] || die "DANGAN_MINIO_RETENTION_MODE must be GOVERNANCE or COMPLIANCE"
[[ $retention_days =~ ^[0-9]+$ ]] || die "DANGAN_MINIO_DEFAULT_RETENTION_DAYS must be a whole number of days"
[[ $noncurrent_days =~ ^[1-9][0-9]*$ ]] || die "DANGAN_MINIO_DERIVATIVE_NONCURRENT_DAYS must be a positive number"
# Lifecycle cannot remove a version still under retention; a shorter expiry would silently never apply.
((noncurrent_days > retention_days)) ||
  die "DANGAN_MINIO_DERIVATIVE_NONCURRENT_DAYS ($noncurrent_days) must exceed the default retention ($retention_days)"

read -r -a sites <<<"$DANGAN_SITES"
((${#sites[@]} > 0)) || die "DANGAN_SITES is empty"
for code in "${sites[@]}"; do
  [[ $code =~ ^[0-9]{6}$ ]] || die "site code '$code' is not a 6-digit GB/T 2260 code"
  secret_var="DANGAN_S3_SECRET_KEY_$code"
  secret=${!secret_var:-}
  [[ -n $secret ]] || die "$secret_var is not set (infra/site-credentials.env)"
  [[ $secret != CHANGE_ME* ]] || die "$secret_var still holds the placeholder from the example file"
  ((${#secret} >= 8)) || die "$secret_var must be at least 8 characters (MinIO refuses shorter secrets)"
done

# mc keeps aliases (with the root credentials) in its config dir: use a private, throw-away one.
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
export MC_CONFIG_DIR="$workdir/mc"

# --- connect --------------------------------------------------------------------------------------------
mc alias set "$alias_name" "$minio_url" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
ready=0
for ((try = 0; try < 30; try++)); do
  if mc admin info "$alias_name" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 2
done
((ready)) || die "MinIO at $minio_url did not answer as administrator within a minute"

policy_text=$(<"$policy_template")
lifecycle_text=$(<"$lifecycle_template")

for code in "${sites[@]}"; do
  bucket="dangan-$code"
  target="$alias_name/$bucket"
  access_var="DANGAN_S3_ACCESS_KEY_$code"
  access=${!access_var:-dangan-$code}
  secret_var="DANGAN_S3_SECRET_KEY_$code"
  secret=${!secret_var}

  # Bucket with object lock (implies versioning). --ignore-existing keeps re-runs quiet.
  mc mb --ignore-existing --with-lock "$target" >/dev/null
  mc version enable "$target" >/dev/null

  # Default retention doubles as the object-lock check: both commands fail on a bucket without lock.
  if ((retention_days > 0)); then
    mc retention set --default "$mode" "${retention_days}d" "$target" >/dev/null ||
      die "$bucket: cannot set default retention (a bucket created without object lock cannot get it later)"
  else
    mc retention clear --default "$target" >/dev/null ||
      die "$bucket: cannot clear default retention (is object lock enabled on it?)"
  fi

  # Lifecycle: import replaces the whole configuration, so re-runs do not stack duplicate rules.
  lifecycle=${lifecycle_text//@SITE@/$code}
  lifecycle=${lifecycle//@DERIVATIVE_NONCURRENT_DAYS@/$noncurrent_days}
  printf '%s\n' "$lifecycle" >"$workdir/lifecycle-$code.json"
  mc ilm rule import "$target" <"$workdir/lifecycle-$code.json" >/dev/null

  # Policy (create overwrites), user (add updates the secret of an existing user), attachment.
  policy_name="dangan-site-$code"
  printf '%s\n' "${policy_text//@BUCKET@/$bucket}" >"$workdir/$policy_name.json"
  mc admin policy create "$alias_name" "$policy_name" "$workdir/$policy_name.json" >/dev/null
  mc admin user add "$alias_name" "$access" "$secret" >/dev/null
  if ! out=$(mc admin policy attach "$alias_name" "$policy_name" --user "$access" 2>&1); then
    # Older mc releases report an already attached policy as an error.
    [[ $out == *"already in effect"* ]] || die "attaching $policy_name to $access failed: $out"
  fi

  say "site $code: bucket $bucket (object lock, default $mode ${retention_days}d), user $access, policy $policy_name"
done
say "done: ${#sites[@]} site(s)"
