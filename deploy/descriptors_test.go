package deploy

import (
	"slices"
	"strconv"
	"testing"
)

// A first deployment is a dry run on both platforms, dry runs stay out of
// chat unless asked, and the number of concurrent sweeps is bounded.
// scripts/check-s-yaml.js checks s.yaml through Serverless Devs' own parser
// as well (make lint-deploy); this test needs nothing but Go.
func TestDescriptorsDeployDryByDefault(t *testing.T) {
	const (
		sam = "../template.yaml"
		fc  = "../s.yaml"
	)
	fn := []string{"Resources", "StopperFunction", "Properties"}
	env := append(slices.Clone(fn), "Environment", "Variables")
	fcEnv := []string{"vars", "environment"}
	tests := []struct {
		name string
		file string
		path []string
		want string
	}{
		{"DryRun defaults to true", sam, []string{"Parameters", "DryRun", "Default"}, "true"},
		{"DryRun feeds STOPPER_DRY_RUN", sam, append(slices.Clone(env), "STOPPER_DRY_RUN"), "!Ref DryRun"},
		{"NotifyDryRun defaults to false", sam, []string{"Parameters", "NotifyDryRun", "Default"}, "false"},
		{"NotifyDryRun feeds STOPPER_NOTIFY_DRY_RUN", sam, append(slices.Clone(env), "STOPPER_NOTIFY_DRY_RUN"), "!Ref NotifyDryRun"},
		{"ReservedConcurrency bounds the function", sam, append(slices.Clone(fn), "ReservedConcurrentExecutions"),
			"!If [ConcurrencyReserved, !Ref ReservedConcurrency, !Ref AWS::NoValue]"},

		{"vars.dryRun defaults to true", fc, []string{"vars", "dryRun"}, "true"},
		{"vars.dryRun feeds STOPPER_DRY_RUN", fc, append(slices.Clone(fcEnv), "STOPPER_DRY_RUN"), "${str('vars.dryRun')}"},
		{"vars.notifyDryRun defaults to false", fc, []string{"vars", "notifyDryRun"}, "false"},
		{"vars.notifyDryRun feeds STOPPER_NOTIFY_DRY_RUN", fc, append(slices.Clone(fcEnv), "STOPPER_NOTIFY_DRY_RUN"), "${str('vars.notifyDryRun')}"},
		{"vars.reservedConcurrency bounds the function", fc, []string{"resources", "stopper", "props", "concurrencyConfig", "reservedConcurrency"},
			"${vars.reservedConcurrency}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := yamlValue(t, tt.file, tt.path...)
			if !ok {
				t.Fatalf("%s has no %v", tt.file, tt.path)
			}
			if got != tt.want {
				t.Errorf("%s: %v is %q, want %q", tt.file, tt.path, got, tt.want)
			}
		})
	}
}

func TestDescriptorsSwitchesTakeOnlyTrueOrFalse(t *testing.T) {
	for _, param := range []string{"DryRun", "NotifyDryRun"} {
		v, _ := yamlValue(t, "../template.yaml", "Parameters", param, "AllowedValues")
		if got := flowList(v); !slices.Equal(got, []string{"true", "false"}) {
			t.Errorf("template.yaml: %s AllowedValues are %q, want [true false]", param, got)
		}
	}
}

// The concurrency bounds default to a small whole number: a handful of
// sweeps at once, never an unbounded number.
func TestDescriptorsBoundConcurrentSweeps(t *testing.T) {
	tests := []struct {
		file string
		path []string
	}{
		{"../template.yaml", []string{"Parameters", "ReservedConcurrency", "Default"}},
		{"../s.yaml", []string{"vars", "reservedConcurrency"}},
	}
	for _, tt := range tests {
		v, ok := yamlValue(t, tt.file, tt.path...)
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 1 || n > 10 {
			t.Errorf("%s: %v is %q, want a whole number from 1 to 10", tt.file, tt.path, v)
		}
	}
}
