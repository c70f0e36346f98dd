package stopper

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ecs-stopper/stopper/shared/cloudassistant"
)

// Invocation tags the function reads. Whoever starts a command sets them
// (RunCommand and InvokeCommand take Tags), so the owner of a long job can
// say "leave this alone", "this may run 6 h" or "give up after 3 failures".
const (
	// TagProtect: with any value but "false", no sweep and no fail-fast
	// ever stops the invocation; an explicit stop naming it still does.
	TagProtect = "stopper:protect"
	// TagTTL: a Go duration, the invocation's own stale age, used by sweeps
	// instead of OlderThan (shorter or longer).
	TagTTL = "stopper:ttl"
	// TagMaxErrors: a count ("3") or a share ("10%") of the invocation's
	// instances; once that many have failed, fail-fast stops the rest.
	TagMaxErrors = "stopper:max-errors"
)

// CodeInvalidTag reports an owner tag whose value cannot be read: the
// invocation is left alone rather than judged by a guess.
const CodeInvalidTag = "InvalidTag"

// ownerTags are the owner tags of one invocation, read once.
type ownerTags struct {
	protect bool
	ttl     time.Duration // 0: no stopper:ttl
	// maxErrors is the stopper:max-errors threshold; zero when untagged.
	maxErrors Threshold
	// ttlErr and maxErrorsErr report a tag whose value does not parse.
	ttlErr, maxErrorsErr *Error
}

func readOwnerTags(tags []cloudassistant.Tag) ownerTags {
	var o ownerTags
	for _, t := range tags {
		switch t.TagKey {
		case TagProtect:
			o.protect = !strings.EqualFold(strings.TrimSpace(t.TagValue), "false")
		case TagTTL:
			d, err := time.ParseDuration(strings.TrimSpace(t.TagValue))
			if err != nil || d <= 0 {
				o.ttlErr = badTag(TagTTL, t.TagValue, "a positive Go duration such as 45m or 6h")
				continue
			}
			o.ttl = d
		case TagMaxErrors:
			th, err := ParseThreshold(t.TagValue)
			if err != nil {
				o.maxErrorsErr = badTag(TagMaxErrors, t.TagValue, ThresholdForm)
				continue
			}
			o.maxErrors = th
		}
	}
	return o
}

func badTag(key, value, want string) *Error {
	return &Error{Code: CodeInvalidTag,
		Message: "tag " + key + "=" + strconv.Quote(truncate(value)) + " is not " + want +
			": the invocation was left alone; fix the tag, or stop the invocation explicitly"}
}

// Threshold is a fail-fast limit: a count of failed instances, or a share
// of the invocation's instances. The zero Threshold is unset.
type Threshold struct {
	Count   int   // at least 1, or 0 when Percent is used
	Percent Share // in (0, 100 %], or 0 when Count is used
}

// Share is an exact share of instances in hundredths of a percent (1610
// is 16.1 %). Shares are read and computed in integers: a binary float
// would make 16.1 % of 1,000 instances 162 instead of 161.
type Share int

const (
	// OnePercent is 1 % as a Share: 10^ShareDecimals.
	OnePercent Share = 100
	// ShareDecimals is how many decimal places a written share may have:
	// 12.25% is read, 12.125% is refused rather than rounded.
	ShareDecimals = 2
	// ThresholdForm is how a threshold is written, for error messages.
	ThresholdForm = "a count such as 3 or a share such as 10% or 12.5% (more than 0%, at most 100%, at most 2 decimal places)"
)

// String is the share as it is written, without the % sign: "16.1".
func (s Share) String() string {
	whole, frac := int(s/OnePercent), int(s%OnePercent)
	if frac == 0 {
		return strconv.Itoa(whole)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%02d", whole, frac), "0")
}

// of is ceil(instances × s): the fewest instances that make up at least
// the share. It splits instances by 100 % (q×10000 + r) so that no product
// exceeds instances or 10⁸, whatever the count.
func (s Share) of(instances int) int {
	if instances <= 0 || s <= 0 {
		return 0
	}
	const all = int(100 * OnePercent)
	share := min(int(s), all) // ParseThreshold never makes more than 100 %
	q, r := instances/all, instances%all
	return q*share + (r*share+all-1)/all
}

// IsZero reports whether the threshold is unset.
func (t Threshold) IsZero() bool { return t.Count == 0 && t.Percent == 0 }

// String is the threshold as it is written: "3" or "10%".
func (t Threshold) String() string {
	if t.Percent > 0 {
		return t.Percent.String() + "%"
	}
	if t.Count > 0 {
		return strconv.Itoa(t.Count)
	}
	return ""
}

// Limit is the number of failed instances, out of instances, that reaches
// the threshold: a share is rounded up and is at least 1.
func (t Threshold) Limit(instances int) int {
	if t.Percent > 0 {
		return max(t.Percent.of(instances), 1)
	}
	return t.Count
}

// ParseThreshold reads "3" (at least 1) or "10%" (more than 0, at most
// 100, at most ShareDecimals decimal places).
func ParseThreshold(s string) (Threshold, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		share, err := parseShare(strings.TrimSpace(p))
		switch {
		case errors.Is(err, errTooPrecise):
			return Threshold{}, Invalid("max-errors", "%q has more than %d decimal places: give a share such as 12.25%%", truncate(s), ShareDecimals)
		case err != nil || share <= 0 || share > 100*OnePercent:
			return Threshold{}, Invalid("max-errors", "%q is not a share such as 10%% or 12.5%% (more than 0%%, at most 100%%, at most %d decimal places)", truncate(s), ShareDecimals)
		}
		return Threshold{Percent: share}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return Threshold{}, Invalid("max-errors", "%q is not a count of at least 1 such as 3, nor a share such as 10%%", truncate(s))
	}
	return Threshold{Count: n}, nil
}

var (
	errTooPrecise = errors.New("too many decimal places")
	errNotShare   = errors.New("not a decimal number")
)

// parseShare reads a percentage written in plain decimal digits ("10",
// "12.5", ".25") exactly. Trailing zeros of the fraction carry no
// precision and are dropped; a value over 100 % is returned as over.
func parseShare(s string) (Share, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if !isDigits(whole) || !isDigits(frac) || whole+frac == "" {
		return 0, errNotShare
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > ShareDecimals {
		return 0, errTooPrecise
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 3 { // over 100 %, and never an overflow
		return 0, errNotShare
	}
	w, _ := strconv.Atoi("0" + whole)
	f, _ := strconv.Atoi((frac + strings.Repeat("0", ShareDecimals))[:ShareDecimals])
	return Share(w)*OnePercent + Share(f), nil
}

// isDigits reports whether s holds ASCII digits only (or nothing).
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
