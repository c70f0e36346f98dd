#!/usr/bin/env bash
# Creates the ecs-stopper role in every member account of a Resource
# Directory (or in the accounts named), with the aliyun CLI, so that the
# function, running in the central account, can assume it (docs/accounts.md):
#   - the role, trusting only the function's identity in the central account
#     (deploy/account-member-role-trust-policy.json, plus an ExternalId
#     condition with --external-id);
#   - its one permission policy, the two Cloud Assistant actions
#     (deploy/account-member-role-policy.json), attached.
# It reaches each member by assuming a setup role there (by default
# ResourceDirectoryAccountAccessRole, which Resource Directory creates in the
# accounts it creates; an invited account needs one made by hand), through
# an aliyun CLI profile per member in ChainableRamRoleArn mode, so that no
# key passes through this script. Running it again is safe: what exists is
# left as it is.
#
#   scripts/create-member-roles.sh --central-role-arn acs:ram::<central-id>:role/ecs-stopper \
#     [--profile NAME] [--accounts ID,ID] [--role-name ecs-stopper] \
#     [--external-id ID] [--setup-role ResourceDirectoryAccountAccessRole] [--dry-run]
#
# --profile: the aliyun CLI profile of the management account (or a
#   delegated administrator), allowed resourcemanager:ListAccounts and
#   sts:AssumeRole on the setup roles. --accounts: these ids instead of every
#   active member. --dry-run: list the members (the one call it makes) and
#   print every other command instead of running it.
# Needs the aliyun CLI and jq.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=default
accounts=
role_name=ecs-stopper
policy_name=ecs-stopper-member
external_id=
setup_role=ResourceDirectoryAccountAccessRole
central_role_arn=
region=cn-hangzhou
dry_run=false

usage() {
  sed -n '/^#   scripts/,/^# Needs/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=${2:?--profile needs a value}; shift 2 ;;
    --accounts) accounts=${2:?--accounts needs a value}; shift 2 ;;
    --role-name) role_name=${2:?--role-name needs a value}; shift 2 ;;
    --external-id) external_id=${2:?--external-id needs a value}; shift 2 ;;
    --setup-role) setup_role=${2:?--setup-role needs a value}; shift 2 ;;
    --central-role-arn) central_role_arn=${2:?--central-role-arn needs a value}; shift 2 ;;
    --region) region=${2:?--region needs a value}; shift 2 ;;
    --dry-run) dry_run=true; shift ;;
    -h|--help) usage ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
done

if [[ ! $central_role_arn =~ ^acs:ram::[0-9]+:role/[A-Za-z0-9._-]+$ ]]; then
  echo "--central-role-arn must be the function's role in the central account, acs:ram::<account-id>:role/<name>, not '${central_role_arn}'" >&2
  exit 2
fi
if [[ ! $role_name =~ ^[A-Za-z0-9._-]+$ ]]; then
  echo "--role-name must be a RAM role name (letters, digits, . _ -), not '${role_name}'" >&2
  exit 2
fi
for tool in aliyun jq; do
  command -v "$tool" >/dev/null || { echo "$tool not found: this script needs the aliyun CLI and jq" >&2; exit 2; }
done

# run prints a command; it runs it too unless this is a dry run. A command
# that fails because what it creates exists already counts as done.
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  if [ "$dry_run" = true ]; then
    return 0
  fi
  local out
  if out=$("$@" 2>&1); then
    return 0
  fi
  if grep -q 'EntityAlreadyExists' <<<"$out"; then
    echo "  (exists already)"
    return 0
  fi
  echo "$out" >&2
  return 1
}

# members lists the active member account ids, every page.
members() {
  local page=1 size=100 body total
  while :; do
    body=$(aliyun resourcemanager ListAccounts --profile "$profile" --PageNumber "$page" --PageSize "$size")
    jq -r '.Accounts.Account[] | select(.Status == "CreateSuccess" or .Status == "InviteSuccess") | .AccountId' <<<"$body"
    total=$(jq -r '.TotalCount // 0' <<<"$body")
    if [ $((page * size)) -ge "$total" ]; then
      break
    fi
    page=$((page + 1))
  done
}

if [ -n "$accounts" ]; then
  IFS=, read -r -a ids <<<"$accounts"
else
  mapfile -t ids < <(members)
fi
if [ "${#ids[@]}" -eq 0 ]; then
  echo "no member accounts found (ListAccounts answered none active); nothing to do" >&2
  exit 1
fi

trust=$(jq -c --arg principal "$central_role_arn" --arg external "$external_id" '
  .Statement[0].Principal.RAM = [$principal]
  | if $external != "" then .Statement[0].Condition = {"StringEquals": {"sts:ExternalId": $external}} else . end
' deploy/account-member-role-trust-policy.json)
permissions=$(jq -c . deploy/account-member-role-policy.json)

failed=0
for id in "${ids[@]}"; do
  if [[ ! $id =~ ^[0-9]+$ ]]; then
    echo "skipping '$id': not an account id" >&2
    failed=1
    continue
  fi
  echo "== account $id"
  member_profile="ecs-stopper-setup-$id"
  if run aliyun configure set --profile "$member_profile" --mode ChainableRamRoleArn \
      --source-profile "$profile" --ram-role-arn "acs:ram::$id:role/$setup_role" \
      --role-session-name ecs-stopper-setup --region "$region" &&
    run aliyun ram CreateRole --profile "$member_profile" --RoleName "$role_name" \
      --Description "ecs-stopper: stops Cloud Assistant invocations for the central function" \
      --AssumeRolePolicyDocument "$trust" &&
    run aliyun ram CreatePolicy --profile "$member_profile" --PolicyName "$policy_name" \
      --Description "ecs-stopper: the two Cloud Assistant actions" --PolicyDocument "$permissions" &&
    run aliyun ram AttachPolicyToRole --profile "$member_profile" --PolicyType Custom \
      --PolicyName "$policy_name" --RoleName "$role_name"; then
    if [ "$dry_run" = true ]; then
      echo "   (dry run: nothing created)"
    else
      echo "   acs:ram::$id:role/$role_name ready"
    fi
  else
    echo "   account $id: not done (see above); the others go on" >&2
    failed=1
  fi
done
exit $failed
