// Package deploy holds the RAM policies the function's deployments need
// (JSON files beside this test) and the tests that keep them, and the
// deploy descriptors' safe defaults, in step with the code.
package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ecsClientDir is the Cloud Assistant API client: every API action the
// function calls goes through a call{action: "..."} literal there.
var ecsClientDir = filepath.Join("..", "shared", "ecs")

// calledActions lists the API actions the ECS client calls, read from its
// source, so that a new action cannot ship without its policies knowing.
func calledActions(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(ecsClientDir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "call" {
				return true
			}
			for _, el := range lit.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if key, ok := kv.Key.(*ast.Ident); !ok || key.Name != "action" {
					continue
				}
				s, ok := kv.Value.(*ast.BasicLit)
				if !ok || s.Kind != token.STRING {
					t.Fatalf("%s: a call's action is not a string literal; the policies cannot be checked against it", fset.Position(kv.Pos()))
				}
				action, err := strconv.Unquote(s.Value)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(actions, action) {
					actions = append(actions, action)
				}
			}
			return true
		})
	}
	if len(actions) == 0 {
		t.Fatalf("found no call{action: ...} in %s: this test no longer knows which API actions the function calls", ecsClientDir)
	}
	slices.Sort(actions)
	return actions
}

// names is a policy's Action or Resource: one string or a list of them.
type names []string

func (n *names) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*n = names{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings, got %s", b)
	}
	*n = many
	return nil
}

// statement is one RAM policy statement
// (https://www.alibabacloud.com/help/en/ram/policy-elements).
type statement struct {
	Effect    string
	Action    names
	Resource  names
	Principal *struct {
		Service   []string `json:",omitempty"`
		RAM       []string `json:",omitempty"`
		Federated []string `json:",omitempty"`
	}
	Condition json.RawMessage
}

type policy struct {
	Version   string
	Statement []statement
}

// trustStatement is a trust policy's one statement, which must let its
// principal do sts:AssumeRole and name no Resource.
func trustStatement(t *testing.T, name string) statement {
	t.Helper()
	p := readPolicy(t, name)
	if len(p.Statement) != 1 {
		t.Fatalf("%d statements, want 1", len(p.Statement))
	}
	s := p.Statement[0]
	if !slices.Equal(s.Action, names{"sts:AssumeRole"}) {
		t.Errorf("Action is %v, want [sts:AssumeRole]", s.Action)
	}
	if len(s.Resource) != 0 {
		t.Errorf("Resource is %v; a trust policy names a Principal instead", s.Resource)
	}
	return s
}

func readPolicy(t *testing.T, name string) policy {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelt element would be ignored by nothing but RAM
	var p policy
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if p.Version != "1" {
		t.Errorf("%s: Version is %q; RAM policies are version \"1\"", name, p.Version)
	}
	if len(p.Statement) == 0 {
		t.Errorf("%s: no Statement", name)
	}
	for i, s := range p.Statement {
		if s.Effect != "Allow" {
			t.Errorf("%s: statement %d: Effect is %q, want Allow", name, i, s.Effect)
		}
		if len(s.Action) == 0 {
			t.Errorf("%s: statement %d: no Action", name, i)
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("%s: statement %d: Action %q is a wildcard; name each action", name, i, a)
			}
		}
	}
	return p
}

// conditions reads a statement's Condition: operator -> key -> value.
func conditions(t *testing.T, s statement) map[string]map[string]any {
	t.Helper()
	if len(s.Condition) == 0 {
		return nil
	}
	var c map[string]map[string]any
	if err := json.Unmarshal(s.Condition, &c); err != nil {
		t.Fatalf("Condition: %v", err)
	}
	return c
}

// ecs prefixes RAM's service name to API actions.
func ecs(actions []string) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = "ecs:" + a
	}
	return out
}

// slsLogsConfigured says whether s.yaml's function writes to an SLS
// logstore (logConfig set on a line that is not a comment), which is when
// its role needs log:PostLogStoreLogs.
func slsLogsConfigured(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("../s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`(?m)^\s+logConfig:`).Match(b)
}

func TestPermissionPoliciesGrantExactlyWhatTheFunctionCalls(t *testing.T) {
	called := ecs(calledActions(t))
	var logs []string
	if slsLogsConfigured(t) {
		logs = []string{"log:PostLogStoreLogs"}
	}
	tests := []struct {
		file string
		who  string
		want []string
	}{
		{"fc-role-policy.json", "the FC function's role", slices.Concat(called, logs)},
		{"lambda-ram-user-policy.json", "the Lambda function's RAM user or OIDC role", called},
		{"account-member-role-policy.json", "the role the function assumes in each member account", called},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := readPolicy(t, tt.file)
			var got []string
			for i, s := range p.Statement {
				if s.Principal != nil {
					t.Errorf("statement %d has a Principal: a permission policy names none", i)
				}
				if len(s.Resource) == 0 {
					t.Errorf("statement %d has no Resource", i)
				}
				got = append(got, s.Action...)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("%s grants %s %v, want exactly %v (the API actions in %s, and log writing when s.yaml sets logConfig)",
					tt.file, tt.who, got, want, ecsClientDir)
			}
		})
	}
}

func TestFCRoleTrustPolicyLetsOnlyFunctionComputeAssumeIt(t *testing.T) {
	s := trustStatement(t, "fc-role-trust-policy.json")
	if s.Principal == nil || !slices.Equal(s.Principal.Service, []string{"fc.aliyuncs.com"}) ||
		len(s.Principal.RAM) != 0 || len(s.Principal.Federated) != 0 {
		t.Errorf("Principal is %+v, want only the service fc.aliyuncs.com", s.Principal)
	}
}

// Every policy file is tested above and explained in the README; every
// policy file the descriptors or the README name exists.
func TestPolicyFilesAreKnownAndReferenced(t *testing.T) {
	tested := []string{
		"account-central-policy.json", "account-member-role-policy.json", "account-member-role-trust-policy.json",
		"fc-role-policy.json", "fc-role-trust-policy.json", "lambda-oidc-role-trust-policy.json", "lambda-ram-user-policy.json",
	}
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files, tested) {
		t.Errorf("policy files %v, want %v: add a new one to the tests", files, tested)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !bytes.Contains(readme, []byte("deploy/"+f)) {
			t.Errorf("deploy/README.md does not mention deploy/%s", f)
		}
	}
	mentioned := regexp.MustCompile(`deploy/([A-Za-z0-9._-]+\.json)`)
	for _, doc := range []string{"../s.yaml", "../template.yaml", "README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mentioned.FindAllSubmatch(b, -1) {
			if _, err := os.Stat(string(m[1])); err != nil {
				t.Errorf("%s names deploy/%s, which does not exist", doc, m[1])
			}
		}
	}
}
