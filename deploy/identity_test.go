package deploy

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The RAM role the Lambda function becomes in OIDC mode trusts only tokens
// of the registered provider, from this AWS account's issuer, for the
// template's audience, about the function's own AWS role.
func TestOIDCRoleTrustsOnlyTheFunctionsTokens(t *testing.T) {
	s := trustStatement(t, "lambda-oidc-role-trust-policy.json")
	provider := regexp.MustCompile(`^acs:ram::<ALIBABA_ACCOUNT_ID>:oidc-provider/[A-Za-z0-9._-]+$`)
	if s.Principal == nil || len(s.Principal.Federated) != 1 || !provider.MatchString(s.Principal.Federated[0]) ||
		len(s.Principal.Service) != 0 || len(s.Principal.RAM) != 0 {
		t.Fatalf("Principal is %+v, want only one Federated OIDC provider", s.Principal)
	}
	c := conditions(t, s)
	if got := slices.Sorted(maps.Keys(c)); !slices.Equal(got, []string{"StringEquals"}) {
		t.Fatalf("Condition operators %v, want only StringEquals", got)
	}
	eq := c["StringEquals"]
	if got := slices.Sorted(maps.Keys(eq)); !slices.Equal(got, []string{"oidc:aud", "oidc:iss", "oidc:sub"}) {
		t.Errorf("conditions on %v, want exactly oidc:aud, oidc:iss and oidc:sub", got)
	}
	audience, _ := yamlValue(t, "../template.yaml", "Parameters", "OidcAudience", "Default")
	tests := []struct {
		key  string
		want *regexp.Regexp
	}{
		{"oidc:iss", regexp.MustCompile(`^https://<AWS_ISSUER_ID>\.tokens\.sts\.global\.api\.aws$`)},
		{"oidc:aud", regexp.MustCompile(`^` + regexp.QuoteMeta(audience) + `$`)},
		{"oidc:sub", regexp.MustCompile(`^arn:aws:iam::<AWS_ACCOUNT_ID>:role/<LAMBDA_ROLE_NAME>$`)},
	}
	for _, tt := range tests {
		if v, ok := eq[tt.key].(string); !ok || !tt.want.MatchString(v) {
			t.Errorf("%s is %v, want one value matching %s", tt.key, eq[tt.key], tt.want)
		}
	}
}

// template.yaml offers three identity modes, safest first and the AccessKey
// last; each mode's variables and AWS permissions exist only in that mode,
// and each permission is the least the mode needs.
func TestTemplateIdentityModes(t *testing.T) {
	const sam = "../template.yaml"
	env := []string{"Resources", "StopperFunction", "Properties", "Environment", "Variables"}
	tests := []struct {
		name string
		path []string
		want string
	}{
		{"OIDC provider ARN only in OIDC mode", append(slices.Clone(env), "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"),
			"!If [OidcMode, !Ref AlibabaOidcProviderArn, !Ref AWS::NoValue]"},
		{"role ARN only in OIDC mode", append(slices.Clone(env), "ALIBABA_CLOUD_ROLE_ARN"),
			"!If [OidcMode, !Ref AlibabaRoleArn, !Ref AWS::NoValue]"},
		{"audience only in OIDC mode", append(slices.Clone(env), "STOPPER_AWS_OIDC_AUDIENCE"),
			"!If [OidcMode, !Ref OidcAudience, !Ref AWS::NoValue]"},
		{"audience defaults to Alibaba STS", []string{"Parameters", "OidcAudience", "Default"}, "sts.aliyuncs.com"},
		{"secret only in Secrets Manager mode", append(slices.Clone(env), "STOPPER_ALIBABA_SECRET_ID"),
			"!If [SecretsManagerMode, !Ref AlibabaSecretArn, !Ref AWS::NoValue]"},
		{"extension port only in Secrets Manager mode", append(slices.Clone(env), "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"),
			"!If [SecretsManagerMode, '2773', !Ref AWS::NoValue]"},
		{"extension layer only in Secrets Manager mode", []string{"Resources", "StopperFunction", "Properties", "Layers"},
			"!If [SecretsManagerMode, [!Ref ParametersSecretsExtensionLayerArn], !Ref AWS::NoValue]"},
		{"AccessKey ID only in AccessKey mode", append(slices.Clone(env), "ALIBABA_CLOUD_ACCESS_KEY_ID"),
			"!If [AccessKeyMode, !Ref AlibabaAccessKeyId, !Ref AWS::NoValue]"},
		{"AccessKey secret only in AccessKey mode", append(slices.Clone(env), "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
			"!If [AccessKeyMode, !Ref AlibabaAccessKeySecret, !Ref AWS::NoValue]"},
		{"AccessKey ID hidden", []string{"Parameters", "AlibabaAccessKeyId", "NoEcho"}, "true"},
		{"AccessKey secret hidden", []string{"Parameters", "AlibabaAccessKeySecret", "NoEcho"}, "true"},
		{"assume-role ARN", append(slices.Clone(env), "STOPPER_ASSUME_ROLE_ARN"), "!Ref AssumeRoleArn"},
		{"assume-role ExternalId", append(slices.Clone(env), "STOPPER_ASSUME_ROLE_EXTERNAL_ID"), "!Ref AssumeRoleExternalId"},
		{"OidcMode", []string{"Conditions", "OidcMode"}, "!Not [!Equals [!Ref AlibabaRoleArn, '']]"},
		{"SecretsManagerMode", []string{"Conditions", "SecretsManagerMode"}, "!Not [!Equals [!Ref AlibabaSecretArn, '']]"},
		{"AccessKeyMode", []string{"Conditions", "AccessKeyMode"}, "!Not [!Equals [!Ref AlibabaAccessKeyId, '']]"},

		{"token policy only in OIDC mode", []string{"Resources", "OidcTokenPolicy", "Condition"}, "OidcMode"},
		{"token policy on the function's role", []string{"Resources", "OidcTokenPolicy", "Properties", "Roles"}, "[!Ref StopperFunctionRole]"},
		{"token policy: one action", []string{"Resources", "OidcTokenPolicy", "Properties", "PolicyDocument", "Statement", "Action"},
			"sts:GetWebIdentityToken"},
		{"token policy: only the audience", []string{"Resources", "OidcTokenPolicy", "Properties", "PolicyDocument", "Statement",
			"Condition", "ForAllValues:StringEquals", "sts:IdentityTokenAudience"}, "[!Ref OidcAudience]"},
		{"token policy: an audience is named", []string{"Resources", "OidcTokenPolicy", "Properties", "PolicyDocument", "Statement",
			"Condition", "Null", "sts:IdentityTokenAudience"}, "false"},
		{"token policy: RS256 only", []string{"Resources", "OidcTokenPolicy", "Properties", "PolicyDocument", "Statement",
			"Condition", "StringEquals", "sts:SigningAlgorithm"}, "RS256"},
		{"token policy: short-lived tokens", []string{"Resources", "OidcTokenPolicy", "Properties", "PolicyDocument", "Statement",
			"Condition", "NumericLessThanEqualsIfExists", "sts:DurationSeconds"}, "300"},
		{"secret policy only in Secrets Manager mode", []string{"Resources", "AlibabaSecretPolicy", "Condition"}, "SecretsManagerMode"},
		{"secret policy on the function's role", []string{"Resources", "AlibabaSecretPolicy", "Properties", "Roles"}, "[!Ref StopperFunctionRole]"},
		{"secret policy: one action", []string{"Resources", "AlibabaSecretPolicy", "Properties", "PolicyDocument", "Statement", "Action"},
			"secretsmanager:GetSecretValue"},
		{"secret policy: one secret", []string{"Resources", "AlibabaSecretPolicy", "Properties", "PolicyDocument", "Statement", "Resource"},
			"!Ref AlibabaSecretArn"},
		{"the function's role is an output", []string{"Outputs", "FunctionRoleArn", "Value"}, "!GetAtt StopperFunctionRole.Arn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := yamlValue(t, sam, tt.path...)
			if !ok {
				t.Fatalf("template.yaml has no %v", tt.path)
			}
			if got != tt.want {
				t.Errorf("%v is %q, want %q", tt.path, got, tt.want)
			}
		})
	}

	t.Run("each policy statement's keys", func(t *testing.T) {
		for policy, want := range map[string][]string{
			"OidcTokenPolicy":     {"Effect", "Action", "Resource", "Condition"},
			"AlibabaSecretPolicy": {"Effect", "Action", "Resource"},
		} {
			path := []string{"Resources", policy, "Properties", "PolicyDocument", "Statement"}
			if got := yamlKeys(t, sam, path...); !slices.Equal(got, want) {
				t.Errorf("%s's statement has %v, want %v (one statement, nothing more)", policy, got, want)
			}
		}
		cond := []string{"Resources", "OidcTokenPolicy", "Properties", "PolicyDocument", "Statement", "Condition"}
		want := []string{"ForAllValues:StringEquals", "Null", "StringEquals", "NumericLessThanEqualsIfExists"}
		if got := yamlKeys(t, sam, cond...); !slices.Equal(got, want) {
			t.Errorf("OidcTokenPolicy's conditions are %v, want %v", got, want)
		}
	})

	t.Run("safest mode first, AccessKey last", func(t *testing.T) {
		params := yamlKeys(t, sam, "Parameters")
		pos := func(name string) int {
			i := slices.Index(params, name)
			if i < 0 {
				t.Fatalf("template.yaml has no parameter %s", name)
			}
			return i
		}
		if !(pos("AlibabaOidcProviderArn") < pos("AlibabaSecretArn") && pos("AlibabaSecretArn") < pos("AlibabaAccessKeyId")) {
			t.Errorf("parameters in the order %v: want OIDC, then Secrets Manager, then AccessKey", params)
		}
		if tail := params[len(params)-2:]; !slices.Equal(tail, []string{"AlibabaAccessKeyId", "AlibabaAccessKeySecret"}) {
			t.Errorf("the last parameters are %v, want the AccessKey pair, the least safe mode, last", tail)
		}
		for _, p := range []string{"AlibabaAccessKeyId", "AlibabaAccessKeySecret"} {
			d := yamlText(t, sam, "Parameters", p, "Description")
			if !strings.Contains(d, "LEAST SAFE") || !strings.Contains(d, "lambda:GetFunctionConfiguration") {
				t.Errorf("%s's Description is %q: want it to say it is the least safe mode and who reads it (lambda:GetFunctionConfiguration)", p, d)
			}
		}
	})

	t.Run("rules refuse none, several or half a mode", func(t *testing.T) {
		want := []string{"OneIdentityMode", "OidcModeWhole", "SecretsManagerModeWhole", "AccessKeyModeWhole"}
		if got := yamlKeys(t, sam, "Rules"); !slices.Equal(got, want) {
			t.Errorf("Rules are %v, want %v", got, want)
		}
	})
}
