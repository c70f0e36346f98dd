package config

import (
	"strings"
	"testing"
)

// The forms the identity and accounts settings accept, at their bounds:
// each character class at its edges, each length at and just past its
// limit.
func TestIdentityValueForms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		valid func(string) bool
		ok    []string
		bad   []string
	}{
		{"role name", validRoleName,
			[]string{"a", "z", "A", "Z", "0", "9", "ecs-stopper", "role.v2", strings.Repeat("r", 64)},
			[]string{"", strings.Repeat("r", 65), "ecs_stopper", "@", "`", "{", "[", "/", ":", "role name"}},
		{"external id", validExternalID,
			[]string{"ab", "AZ", "az", "09", "a=,.@:/_-", strings.Repeat("x", 1224)},
			[]string{"a", strings.Repeat("x", 1225), "ab cd", "ab`", "ab{", "ab[", "ab!"}},
		{"account id", ValidAccountID,
			[]string{"1", "1000000000000001", strings.Repeat("9", 20)},
			[]string{"", strings.Repeat("9", 21), "100000000000000a", "-1", "1 0"}},
		{"role ARN", validRoleArn,
			[]string{"acs:ram::1000000000000001:role/ecs-stopper", "acs:ram::1:role/r"},
			[]string{"acs:ram::1000000000000001:user/ops", "acs:ram:1000000000000001:role/r", "acs:ram::acme:role/r",
				"acs:ram::1000000000000001:role/", "arn:aws:iam::111122223333:role/stopper"}},
	} {
		for _, v := range tc.ok {
			if !tc.valid(v) {
				t.Errorf("%s %q refused", tc.name, v)
			}
		}
		for _, v := range tc.bad {
			if tc.valid(v) {
				t.Errorf("%s %q accepted", tc.name, v)
			}
		}
	}
}

// The free-text identity settings: up to their length limits and without
// surrounding spaces.
func TestIdentityTextLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		ok   bool
	}{
		{"audience of 1000", Config{AWSOIDCAudience: strings.Repeat("a", 1000)}, true},
		{"audience of 1001", Config{AWSOIDCAudience: strings.Repeat("a", 1001)}, false},
		{"audience with a space", Config{AWSOIDCAudience: "sts.aliyuncs.com "}, false},
		{"secret id", Config{AlibabaSecretID: "ecs-stopper/alibaba-access-key"}, true},
		{"secret id of 2048", Config{AlibabaSecretID: strings.Repeat("s", 2048)}, true},
		{"secret id of 2049", Config{AlibabaSecretID: strings.Repeat("s", 2049)}, false},
		{"secret id with a space", Config{AlibabaSecretID: " ecs-stopper"}, false},
	} {
		tc.c.AccountRoleName = "ecs-stopper"
		if err := tc.c.validateIdentity(); (err == nil) != tc.ok {
			t.Errorf("%s: validateIdentity() = %v, want accepted %v", tc.name, err, tc.ok)
		}
	}
}
