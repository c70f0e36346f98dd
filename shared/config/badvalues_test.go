package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// badValue is one value of one variable that start-up must refuse; with
// sets other variables first, so that the refusal is this variable's own.
type badValue struct {
	name, value string
	with        map[string]string
}

const (
	validToken = "0123456789abcdef0123456789abcdef" // 32 characters
	slackURL   = "https://hooks.slack.com/services/T000/B000/XXXX"
)

// badValues holds at least one bad value for every STOPPER_* variable:
// malformed for its type, zero or negative where that means nothing, and
// just over each bound.
var badValues = []badValue{
	{name: "STOPPER_REGION_ID", value: "CN_Hangzhou"},
	{name: "STOPPER_REGION_ID", value: "cn-hangzou"},
	{name: "STOPPER_REGION_ID", value: "cn-hangzhou "},
	{name: "STOPPER_REGION_ID", value: "c" + strings.Repeat("n", 64)},
	{name: "STOPPER_REGION_ID", value: "cn-hangzhou", with: map[string]string{"STOPPER_ALLOWED_REGIONS": "cn-beijing"}},
	{name: "STOPPER_SWEEP_REGION_IDS", value: "cn-beijing,cn-hangzhou", with: map[string]string{"STOPPER_ALLOWED_REGIONS": "cn-beijing"}},

	{name: "STOPPER_ECS_ENDPOINT", value: "ecs.cn-hangzhou.aliyuncs.com"},
	{name: "STOPPER_ECS_ENDPOINT", value: "http://ecs.cn-hangzhou.aliyuncs.com"},
	{name: "STOPPER_ECS_ENDPOINT", value: "https://user:pass@ecs.cn-hangzhou.aliyuncs.com"},
	{name: "STOPPER_ECS_ENDPOINT", value: "ftp://127.0.0.1:8080"},

	{name: "STOPPER_ECS_NETWORK", value: "intranet"},
	{name: "STOPPER_ECS_NETWORK", value: ""},

	{name: "STOPPER_WEBHOOK_SECRET", value: "short"},
	{name: "STOPPER_WEBHOOK_SECRET", value: strings.Repeat("s", 15)},

	{name: "STOPPER_WEBHOOK_TOKEN", value: "too-short-0123456789"},
	{name: "STOPPER_WEBHOOK_TOKEN", value: validToken[:31]},
	{name: "STOPPER_WEBHOOK_TOKEN", value: "has a space 0123456789abcdefghijklmnop"},

	{name: "STOPPER_WEBHOOK_TOKEN_PREVIOUS", value: validToken},
	{name: "STOPPER_WEBHOOK_TOKEN_PREVIOUS", value: "short", with: map[string]string{"STOPPER_WEBHOOK_TOKEN": validToken}},

	{name: "STOPPER_WEBHOOK_INSECURE", value: "maybe"},
	{name: "STOPPER_WEBHOOK_INSECURE", value: "yes"},

	{name: "STOPPER_ALLOWED_REGIONS", value: "cn-hangzhou,Bad Region"},
	{name: "STOPPER_ALLOWED_REGIONS", value: "cn-hangzhou,"},
	{name: "STOPPER_ALLOWED_REGIONS", value: "cn-hangzhou, cn-beijing"},
	{name: "STOPPER_ALLOWED_REGIONS", value: "cn-hangzhou,cn-bejing"},

	{name: "STOPPER_DRY_RUN", value: "maybe"},
	{name: "STOPPER_DRY_RUN", value: ""},

	{name: "STOPPER_SWEEP_REGION_IDS", value: "cn-hangzhou,CN-BEIJING"},
	{name: "STOPPER_SWEEP_REGION_IDS", value: manyRegions(51)},
	{name: "STOPPER_SWEEP_REGION_IDS", value: "cn-shangai"},

	{name: "STOPPER_SWEEP_OLDER_THAN", value: "2 hours"},
	{name: "STOPPER_SWEEP_OLDER_THAN", value: "2hours"},
	{name: "STOPPER_SWEEP_OLDER_THAN", value: "2"},
	{name: "STOPPER_SWEEP_OLDER_THAN", value: "0s"},
	{name: "STOPPER_SWEEP_OLDER_THAN", value: "-1h"},

	{name: "STOPPER_SWEEP_COMMAND_NAME", value: strings.Repeat("c", 129)},

	{name: "STOPPER_SWEEP_TAGS", value: "novalue"},
	{name: "STOPPER_SWEEP_TAGS", value: "env=prod"},
	{name: "STOPPER_SWEEP_TAGS", value: "env:prod:eu"},
	{name: "STOPPER_SWEEP_TAGS", value: ":prod"},
	{name: "STOPPER_SWEEP_TAGS", value: manyTags(21)},
	{name: "STOPPER_SWEEP_TAGS", value: strings.Repeat("k", 129) + ":v"},
	{name: "STOPPER_SWEEP_TAGS", value: "env:" + strings.Repeat("v", 129)},
	{name: "STOPPER_SWEEP_TAGS", value: "env:prod,env:dev"},

	{name: "STOPPER_SWEEP_INCLUDE_PERIODIC", value: "maybe"},

	{name: "STOPPER_SWEEP_MAX_STOPS", value: "-1"},
	{name: "STOPPER_SWEEP_MAX_STOPS", value: "many"},
	{name: "STOPPER_SWEEP_MAX_STOPS", value: "1.5"},
	{name: "STOPPER_SWEEP_MAX_STOPS", value: "010"},
	{name: "STOPPER_SWEEP_MAX_STOPS", value: "99999999999999999999"},

	{name: "STOPPER_FAILFAST_MAX_ERRORS", value: "0"},
	{name: "STOPPER_FAILFAST_MAX_ERRORS", value: "-1"},
	{name: "STOPPER_FAILFAST_MAX_ERRORS", value: "0%"},
	{name: "STOPPER_FAILFAST_MAX_ERRORS", value: "150%"},
	{name: "STOPPER_FAILFAST_MAX_ERRORS", value: "three"},
	{name: "STOPPER_FAILFAST_MAX_ERRORS", value: "16.125%"},

	{name: "STOPPER_SWEEP_CONCURRENCY", value: "0"},
	{name: "STOPPER_SWEEP_CONCURRENCY", value: "-1"},
	{name: "STOPPER_SWEEP_CONCURRENCY", value: "65"},
	{name: "STOPPER_SWEEP_CONCURRENCY", value: "6400"},
	{name: "STOPPER_SWEEP_CONCURRENCY", value: "eight"},

	{name: "STOPPER_SWEEP_RESERVE", value: "-1ns"},
	{name: "STOPPER_SWEEP_RESERVE", value: "-3s"},
	{name: "STOPPER_SWEEP_RESERVE", value: "3"},
	{name: "STOPPER_SWEEP_RESERVE", value: "soon"},

	{name: "STOPPER_NOTIFY_URL", value: "ftp://chat.example/hook"},
	{name: "STOPPER_NOTIFY_URL", value: "http://chat.example/hook"},
	{name: "STOPPER_NOTIFY_URL", value: "hooks.slack.com/services/T/B/x"},
	{name: "STOPPER_NOTIFY_URL", value: "", with: map[string]string{"STOPPER_NOTIFY_FORMAT": "json"}},

	{name: "STOPPER_NOTIFY_FORMAT", value: "teams", with: map[string]string{"STOPPER_NOTIFY_URL": slackURL}},
	{name: "STOPPER_NOTIFY_FORMAT", value: "dingtalk", with: map[string]string{"STOPPER_NOTIFY_URL": slackURL}},

	{name: "STOPPER_NOTIFY_SECRET", value: "SEC0123", with: map[string]string{"STOPPER_NOTIFY_URL": slackURL}},

	{name: "STOPPER_NOTIFY_TIMEOUT", value: "0s"},
	{name: "STOPPER_NOTIFY_TIMEOUT", value: "-2s"},
	{name: "STOPPER_NOTIFY_TIMEOUT", value: "1m1s"},
	{name: "STOPPER_NOTIFY_TIMEOUT", value: "2"},

	{name: "STOPPER_NOTIFY_DRY_RUN", value: "maybe"},

	{name: "STOPPER_CONNECT_TIMEOUT", value: "0"},
	{name: "STOPPER_CONNECT_TIMEOUT", value: "0s"},
	{name: "STOPPER_CONNECT_TIMEOUT", value: "-5s"},
	{name: "STOPPER_CONNECT_TIMEOUT", value: "5"},

	{name: "STOPPER_READ_TIMEOUT", value: "0s"},
	{name: "STOPPER_READ_TIMEOUT", value: "-10s"},
	{name: "STOPPER_READ_TIMEOUT", value: "ten seconds"},

	{name: "STOPPER_MAX_ATTEMPTS", value: "0"},
	{name: "STOPPER_MAX_ATTEMPTS", value: "-1"},
	{name: "STOPPER_MAX_ATTEMPTS", value: "21"},
	{name: "STOPPER_MAX_ATTEMPTS", value: "lots"},

	{name: "STOPPER_MAX_THROTTLE_RETRIES", value: "-1"},
	{name: "STOPPER_MAX_THROTTLE_RETRIES", value: "101"},
	{name: "STOPPER_MAX_THROTTLE_RETRIES", value: "1e3"},

	{name: "STOPPER_LOG_LEVEL", value: "loud"},
	{name: "STOPPER_LOG_LEVEL", value: ""},

	{name: "STOPPER_AWS_OIDC_AUDIENCE", value: " sts.aliyuncs.com"},
	{name: "STOPPER_AWS_OIDC_AUDIENCE", value: strings.Repeat("a", 1001)},
	{name: "STOPPER_AWS_STS_ENDPOINT", value: "https://sts.us-east-1.amazonaws.com"},
	{name: "STOPPER_AWS_STS_ENDPOINT", value: "http://sts.us-east-1.amazonaws.com", with: map[string]string{"STOPPER_AWS_OIDC_AUDIENCE": "sts.aliyuncs.com"}},
	{name: "STOPPER_AWS_STS_ENDPOINT", value: "sts.us-east-1.amazonaws.com", with: map[string]string{"STOPPER_AWS_OIDC_AUDIENCE": "sts.aliyuncs.com"}},
	{name: "STOPPER_ALIBABA_SECRET_ID", value: "name "},
	{name: "STOPPER_ASSUME_ROLE_ARN", value: "arn:aws:iam::111122223333:role/stopper"},
	{name: "STOPPER_ASSUME_ROLE_ARN", value: "acs:ram::1000000000000001:user/ops"},
	{name: "STOPPER_ASSUME_ROLE_ARN", value: "acs:ram::acme:role/ecs-stopper"},
	{name: "STOPPER_ASSUME_ROLE_EXTERNAL_ID", value: "abcd"},
	{name: "STOPPER_ASSUME_ROLE_EXTERNAL_ID", value: "a", with: map[string]string{"STOPPER_ASSUME_ROLE_ARN": "acs:ram::1000000000000001:role/ecs-stopper"}},
	{name: "STOPPER_STS_ENDPOINT", value: "http://sts.cn-hangzhou.aliyuncs.com"},
	{name: "STOPPER_STS_ENDPOINT", value: "https://sts.cn-hangzhou.aliyuncs.com/v1"},
	{name: "STOPPER_ACCOUNTS", value: "resource-directory,1000000000000002"},
	{name: "STOPPER_ACCOUNTS", value: "self,acme"},
	{name: "STOPPER_ACCOUNTS", value: "1000000000000002,1000000000000002"},
	{name: "STOPPER_ACCOUNT_ROLE_NAME", value: ""},
	{name: "STOPPER_ACCOUNT_ROLE_NAME", value: "ecs_stopper"},
	{name: "STOPPER_ACCOUNT_EXTERNAL_ID", value: "x"},
}

func manyRegions(n int) string {
	var r []string
	for i := range n {
		r = append(r, "cn-region-"+string(rune('a'+i/26))+string(rune('a'+i%26)))
	}
	return strings.Join(r, ",")
}

func manyTags(n int) string {
	var tags []string
	for i := range n {
		tags = append(tags, "k"+string(rune('a'+i/26))+string(rune('a'+i%26))+":v")
	}
	return strings.Join(tags, ",")
}

// variables are every STOPPER_* variable, read from the Config struct.
func variables() []string {
	var names []string
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("envconfig"); tag != "" {
			names = append(names, Prefix+"_"+tag)
		}
	}
	return names
}

// Every bad value of every variable stops start-up, and the message names
// that variable; the table covers every variable Config has.
func TestLoadRefusesABadValueOfEveryVariable(t *testing.T) {
	covered := map[string]bool{}
	for _, bv := range badValues {
		covered[bv.name] = true
		t.Run(bv.name+"="+bv.value, func(t *testing.T) {
			for k, v := range bv.with {
				t.Setenv(k, v)
			}
			t.Setenv(bv.name, bv.value)
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), bv.name) {
				t.Fatalf("Load() error = %v, want one naming %s", err, bv.name)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			checkNoLibraryWords(t, err.Error())
			for k := range bv.with {
				if k != bv.name && strings.Contains(err.Error(), k+"=") {
					t.Errorf("the error blames %s, the helper variable, not %s: %v", k, bv.name, err)
				}
			}
		})
	}
	for _, name := range variables() {
		if !covered[name] {
			t.Errorf("no bad value of %s is tested", name)
		}
	}
}

// The values at each bound are accepted, so that the bounds above are
// exactly where the configuration's descriptions put them.
func TestLoadAcceptsValuesAtTheBounds(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"STOPPER_REGION_ID", "c" + strings.Repeat("n", 63)},
		{"STOPPER_ECS_NETWORK", "vpc"},
		{"STOPPER_WEBHOOK_SECRET", strings.Repeat("s", 16)},
		{"STOPPER_WEBHOOK_TOKEN", validToken},
		{"STOPPER_SWEEP_REGION_IDS", manyRegions(50)},
		{"STOPPER_SWEEP_OLDER_THAN", "1ns"},
		{"STOPPER_SWEEP_COMMAND_NAME", strings.Repeat("c", 128)},
		{"STOPPER_SWEEP_TAGS", manyTags(20)},
		{"STOPPER_SWEEP_TAGS", strings.Repeat("k", 128) + ":" + strings.Repeat("v", 128)},
		{"STOPPER_SWEEP_TAGS", "env:"},
		{"STOPPER_SWEEP_MAX_STOPS", "0"},
		{"STOPPER_FAILFAST_MAX_ERRORS", "1"},
		{"STOPPER_FAILFAST_MAX_ERRORS", "100%"},
		{"STOPPER_FAILFAST_MAX_ERRORS", "0.01%"},
		{"STOPPER_SWEEP_CONCURRENCY", "1"},
		{"STOPPER_SWEEP_CONCURRENCY", "64"},
		{"STOPPER_SWEEP_RESERVE", "0s"},
		{"STOPPER_NOTIFY_URL", slackURL},
		{"STOPPER_NOTIFY_TIMEOUT", "1ns"},
		{"STOPPER_NOTIFY_TIMEOUT", "1m"},
		{"STOPPER_CONNECT_TIMEOUT", "1ns"},
		{"STOPPER_READ_TIMEOUT", "1ns"},
		{"STOPPER_MAX_ATTEMPTS", "1"},
		{"STOPPER_MAX_ATTEMPTS", "20"},
		{"STOPPER_MAX_THROTTLE_RETRIES", "0"},
		{"STOPPER_MAX_THROTTLE_RETRIES", "100"},
		{"STOPPER_LOG_LEVEL", "DEBUG"},
		{"STOPPER_LOG_LEVEL", "error"},
		{"STOPPER_ASSUME_ROLE_ARN", "acs:ram::1000000000000001:role/" + strings.Repeat("r", 64)},
		{"STOPPER_STS_ENDPOINT", "http://127.0.0.1:8080/"},
		{"STOPPER_STS_ENDPOINT", "https://sts-vpc.cn-hangzhou.aliyuncs.com"},
		{"STOPPER_ACCOUNTS", "self,1000000000000002"},
		{"STOPPER_ACCOUNTS", "resource-directory"},
		{"STOPPER_ACCOUNT_ROLE_NAME", strings.Repeat("r", 64)},
		{"STOPPER_ACCOUNT_EXTERNAL_ID", "ab"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			if _, err := Load(); err != nil {
				t.Fatalf("Load() = %v", err)
			}
		})
	}
	if !slices.Contains(variables(), "STOPPER_SWEEP_RESERVE") {
		t.Fatal("variables() does not read the Config struct's tags")
	}
}
