package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The role in each member trusts only the function's role in the central
// account (a placeholder that scripts/create-member-roles.sh fills in).
func TestMemberRoleTrustsOnlyTheFunctionsRole(t *testing.T) {
	s := trustStatement(t, "account-member-role-trust-policy.json")
	want := []string{"acs:ram::<CENTRAL_ACCOUNT_ID>:role/<FUNCTION_ROLE_NAME>"}
	if s.Principal == nil || !slices.Equal(s.Principal.RAM, want) || len(s.Principal.Service) != 0 || len(s.Principal.Federated) != 0 {
		t.Errorf("Principal is %+v, want only the RAM role %v (one role, never a whole account's root)", s.Principal, want)
	}
}

// The function's own identity gets exactly two more actions for accounts:
// listing the Resource Directory's members, and assuming the member role by
// its name, in any account, and no other role.
func TestCentralPolicyListsMembersAndAssumesOnlyTheMemberRole(t *testing.T) {
	p := readPolicy(t, "account-central-policy.json")
	roleName, _ := yamlValue(t, "../template.yaml", "Parameters", "AccountRoleName", "Default")
	type grant struct{ action, resource string }
	var got []grant
	for i, s := range p.Statement {
		if s.Principal != nil || len(s.Condition) != 0 {
			t.Errorf("statement %d has a Principal or a Condition; want neither", i)
		}
		for _, a := range s.Action {
			for _, r := range s.Resource {
				got = append(got, grant{a, r})
			}
		}
	}
	want := []grant{
		{"resourcemanager:ListAccounts", "*"},
		{"sts:AssumeRole", "acs:ram::*:role/" + roleName},
	}
	if !slices.Equal(got, want) {
		t.Errorf("grants %v, want exactly %v", got, want)
	}
}

// Both descriptors carry the account settings, with the same defaults.
func TestDescriptorsCarryAccountSettings(t *testing.T) {
	env := []string{"Resources", "StopperFunction", "Properties", "Environment", "Variables"}
	tests := []struct {
		file string
		path []string
		want string
	}{
		{"../template.yaml", []string{"Parameters", "Accounts", "Default"}, ""},
		{"../template.yaml", []string{"Parameters", "AccountRoleName", "Default"}, "ecs-stopper"},
		{"../template.yaml", []string{"Parameters", "AccountExternalId", "Default"}, ""},
		{"../template.yaml", append(slices.Clone(env), "STOPPER_ACCOUNTS"), "!Ref Accounts"},
		{"../template.yaml", append(slices.Clone(env), "STOPPER_ACCOUNT_ROLE_NAME"), "!Ref AccountRoleName"},
		{"../template.yaml", append(slices.Clone(env), "STOPPER_ACCOUNT_EXTERNAL_ID"), "!Ref AccountExternalId"},
		{"../s.yaml", []string{"vars", "accounts"}, ""},
		{"../s.yaml", []string{"vars", "accountRoleName"}, "ecs-stopper"},
		{"../s.yaml", []string{"vars", "accountExternalId"}, ""},
		{"../s.yaml", []string{"vars", "environment", "STOPPER_ACCOUNTS"}, "${vars.accounts}"},
		{"../s.yaml", []string{"vars", "environment", "STOPPER_ACCOUNT_ROLE_NAME"}, "${vars.accountRoleName}"},
		{"../s.yaml", []string{"vars", "environment", "STOPPER_ACCOUNT_EXTERNAL_ID"}, "${vars.accountExternalId}"},
		{"../s.yaml", []string{"vars", "environment", "STOPPER_ASSUME_ROLE_ARN"}, "${vars.assumeRoleArn}"},
		{"../s.yaml", []string{"vars", "environment", "STOPPER_ASSUME_ROLE_EXTERNAL_ID"}, "${vars.assumeRoleExternalId}"},
	}
	for _, tt := range tests {
		got, ok := yamlValue(t, tt.file, tt.path...)
		if !ok || got != tt.want {
			t.Errorf("%s: %v is %q (found %v), want %q", tt.file, tt.path, got, ok, tt.want)
		}
	}
}

const memberRolesScript = "../scripts/create-member-roles.sh"

// The setup script parses, passes shellcheck where it is installed, and in
// a dry run makes no call but ListAccounts and prints, for each active
// member, the role with the central role in its trust and the two actions.
func TestCreateMemberRolesScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	if out, err := exec.Command(bash, "-n", memberRolesScript).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		if out, err := exec.Command(sc, memberRolesScript).CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s", err, out)
		}
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq not found: the script's dry run needs it")
	}

	// A stand-in aliyun CLI: it records its arguments and answers
	// ListAccounts with two pages, one member of which has left.
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	stub := `#!/bin/sh
echo "$*" >> "` + calls + `"
case "$1 $2 $6" in
  "resourcemanager ListAccounts 1") echo '{"Accounts":{"Account":[{"AccountId":"1000000000000002","Status":"CreateSuccess"}]},"TotalCount":101}';;
  "resourcemanager ListAccounts 2") echo '{"Accounts":{"Account":[{"AccountId":"1000000000000003","Status":"InviteSuccess"},{"AccountId":"1000000000000004","Status":"Removed"}]},"TotalCount":101}';;
  *) echo "unexpected call: $*" >&2; exit 1;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "aliyun"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, memberRolesScript, "--profile", "mgmt", "--dry-run",
		"--central-role-arn", "acs:ram::1000000000000001:role/ecs-stopper", "--external-id", "ext-123")
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := "resourcemanager ListAccounts --profile mgmt --PageNumber 1 --PageSize 100\n" +
		"resourcemanager ListAccounts --profile mgmt --PageNumber 2 --PageSize 100\n"
	if string(b) != wantCalls {
		t.Errorf("a dry run called aliyun with\n%s\nwant only the two pages of ListAccounts", b)
	}
	text := string(out)
	for _, want := range []string{
		"== account 1000000000000002", "== account 1000000000000003",
		"--ram-role-arn acs:ram::1000000000000003:role/ResourceDirectoryAccountAccessRole",
		"ram CreateRole --profile ecs-stopper-setup-1000000000000002 --RoleName ecs-stopper",
		`acs:ram::1000000000000001:role/ecs-stopper\"\]`,
		`sts:ExternalId\":\"ext-123\"`,
		`ecs:StopInvocation\"\,\"ecs:DescribeInvocations\"`,
		"ram AttachPolicyToRole --profile ecs-stopper-setup-1000000000000003 --PolicyType Custom --PolicyName ecs-stopper-member --RoleName ecs-stopper",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "1000000000000004") {
		t.Errorf("dry run acts in an account that left the directory:\n%s", text)
	}

	bad := exec.Command(bash, memberRolesScript, "--dry-run", "--central-role-arn", "acs:ram::1:root")
	bad.Env = cmd.Env
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "--central-role-arn must be") {
		t.Errorf("a central principal that is not a role was not refused: %v\n%s", err, out)
	}
}
