package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// The forms of the ids and ARNs the fleet's identity sections hold. A RAM
// role name is 1-64 letters, digits, periods and hyphens
// (https://www.alibabacloud.com/help/en/ram/developer-reference/api-ram-2015-05-01-createrole).
var (
	accountIDPattern    = regexp.MustCompile(`^[0-9]{16}$`)
	roleArnPattern      = regexp.MustCompile(`^acs:ram::([0-9]{16}):role/([A-Za-z0-9.-]{1,64})$`)
	rootArnPattern      = regexp.MustCompile(`^acs:ram::([0-9]{16}):root$`)
	providerArnPattern  = regexp.MustCompile(`^acs:ram::([0-9]{16}):oidc-provider/([A-Za-z0-9._-]{1,128})$`)
	oidcTrustPrefix     = "oidc:"
	roleArnForm         = "acs:ram::<16-digit account id>:role/<name>"
	providerArnForm     = "acs:ram::<16-digit account id>:oidc-provider/<name>"
	trustEntryForms     = "acs:ram::<account id>:root, a role ARN, or oidc:<provider ARN>"
	errNotLoopbackJWKS  = errors.New("must be an http or https URL on a loopback host (127.0.0.1, [::1] or localhost): the emulator never fetches keys from another machine")
	errEmptyIdentityKey = errors.New("must not be empty")
)

// parseIdentity decodes the fleet's identity sections strictly, then checks
// them.
func parseIdentity(f *Fleet, accounts, roles, providers, directory json.RawMessage) error {
	var rawAccounts []struct {
		AccountId   string          `json:"AccountId"`
		Invocations json.RawMessage `json:"Invocations"`
	}
	if err := strictDecode(accounts, &rawAccounts); err != nil {
		return fmt.Errorf("fleet Accounts: %w", err)
	}
	for i, a := range rawAccounts {
		acct := AccountFleet{AccountId: a.AccountId}
		// Invocations are decoded as leniently as the top-level ones: a real
		// answer may be pasted in.
		if len(a.Invocations) > 0 && string(a.Invocations) != "null" {
			if err := json.Unmarshal(a.Invocations, &acct.Invocations); err != nil {
				return fmt.Errorf("fleet Accounts #%d (%s): Invocations: %w", i+1, a.AccountId, err)
			}
		}
		f.Accounts = append(f.Accounts, acct)
	}
	if err := strictDecode(providers, &f.OIDCProviders); err != nil {
		return fmt.Errorf("OIDCProviders: %w", err)
	}
	if err := strictDecode(roles, &f.Roles); err != nil {
		return fmt.Errorf("fleet Roles: %w", err)
	}
	if err := strictDecode(directory, &f.ResourceDirectory); err != nil {
		return fmt.Errorf("ResourceDirectory: %w", err)
	}
	return f.checkIdentity()
}

// checkIdentity checks the accounts, roles, providers and directory
// members; errors name the section, the entry and the field. Fleets built in
// Go go through it too.
func (f *Fleet) checkIdentity() error {
	seenAccounts := map[string]bool{}
	for i, a := range f.Accounts {
		if !accountIDPattern.MatchString(a.AccountId) {
			return fmt.Errorf("fleet Accounts #%d: AccountId %q is not a 16-digit account id", i+1, a.AccountId)
		}
		if seenAccounts[a.AccountId] {
			return fmt.Errorf("fleet Accounts #%d: AccountId %s listed twice", i+1, a.AccountId)
		}
		seenAccounts[a.AccountId] = true
		if err := checkInvocations(a.Invocations); err != nil {
			return fmt.Errorf("fleet Accounts #%d (%s): %w", i+1, a.AccountId, err)
		}
	}
	knownProviders := map[string]bool{}
	for i, p := range f.OIDCProviders {
		if err := checkProvider(p); err != nil {
			return fmt.Errorf("OIDCProviders #%d: %w", i+1, err)
		}
		if knownProviders[p.Arn] {
			return fmt.Errorf("OIDCProviders #%d: Arn %s listed twice", i+1, p.Arn)
		}
		knownProviders[p.Arn] = true
	}
	knownRoles := map[string]bool{}
	for i, r := range f.Roles {
		if err := checkRole(r, knownProviders); err != nil {
			return fmt.Errorf("fleet Roles #%d: %w", i+1, err)
		}
		if knownRoles[r.Arn] {
			return fmt.Errorf("fleet Roles #%d: Arn %s listed twice", i+1, r.Arn)
		}
		knownRoles[r.Arn] = true
	}
	if rd := f.ResourceDirectory; rd != nil {
		seen := map[string]bool{}
		for i, m := range rd.Members {
			if !accountIDPattern.MatchString(m) {
				return fmt.Errorf("ResourceDirectory: Members #%d %q is not a 16-digit account id", i+1, m)
			}
			if seen[m] {
				return fmt.Errorf("ResourceDirectory: Members #%d %s listed twice", i+1, m)
			}
			seen[m] = true
		}
	}
	return nil
}

// strictDecode decodes one section, refusing unknown keys and trailing data;
// an absent section leaves v as it is.
func strictDecode(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the value")
	}
	return nil
}

func checkRole(r Role, providers map[string]bool) error {
	if !roleArnPattern.MatchString(r.Arn) {
		return fmt.Errorf("role Arn %q is not of the form %s", r.Arn, roleArnForm)
	}
	if len(r.Trust) == 0 {
		return fmt.Errorf("role %s: Trust is empty; list who may assume it (%s)", r.Arn, trustEntryForms)
	}
	oidc := false
	for j, t := range r.Trust {
		switch {
		case rootArnPattern.MatchString(t), roleArnPattern.MatchString(t):
		case strings.HasPrefix(t, oidcTrustPrefix):
			p := strings.TrimPrefix(t, oidcTrustPrefix)
			if !providerArnPattern.MatchString(p) {
				return fmt.Errorf("role %s: Trust #%d %q: the provider ARN is not of the form %s", r.Arn, j+1, t, providerArnForm)
			}
			if !providers[p] {
				return fmt.Errorf("role %s: Trust #%d names OIDC provider %s, which OIDCProviders does not list", r.Arn, j+1, p)
			}
			oidc = true
		default:
			return fmt.Errorf("role %s: Trust #%d %q is not one of %s", r.Arn, j+1, t, trustEntryForms)
		}
	}
	for j, sub := range r.OIDCSubjects {
		if sub == "" {
			return fmt.Errorf("role %s: OIDCSubjects #%d %w", r.Arn, j+1, errEmptyIdentityKey)
		}
	}
	if len(r.OIDCSubjects) > 0 && !oidc {
		return fmt.Errorf("role %s: OIDCSubjects is set but Trust names no oidc:<provider ARN>", r.Arn)
	}
	return nil
}

func checkProvider(p OIDCProvider) error {
	if !providerArnPattern.MatchString(p.Arn) {
		return fmt.Errorf("provider Arn %q is not of the form %s", p.Arn, providerArnForm)
	}
	if u, err := url.Parse(p.IssuerUrl); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("provider %s: IssuerUrl %q is not an http(s) URL", p.Arn, p.IssuerUrl)
	}
	if err := checkLoopbackURL(p.JwksUrl); err != nil {
		return fmt.Errorf("provider %s: JwksUrl %q %w", p.Arn, p.JwksUrl, err)
	}
	if len(p.ClientIds) == 0 {
		return fmt.Errorf("provider %s: ClientIds is empty; list the audiences its tokens carry (e.g. sts.aliyuncs.com)", p.Arn)
	}
	for j, id := range p.ClientIds {
		if id == "" {
			return fmt.Errorf("provider %s: ClientIds #%d %w", p.Arn, j+1, errEmptyIdentityKey)
		}
	}
	return nil
}

// checkLoopbackURL accepts http(s) URLs whose host is a loopback address
// or localhost, without credentials in them.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return errNotLoopbackJWKS
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errNotLoopbackJWKS
}

// accountOfArn is the account id in a role, root or provider ARN.
func accountOfArn(arn string) string {
	for _, p := range []*regexp.Regexp{roleArnPattern, rootArnPattern, providerArnPattern} {
		if m := p.FindStringSubmatch(arn); m != nil {
			return m[1]
		}
	}
	return ""
}

// copyFleetIdentity copies the identity sections, so that a snapshot may
// be changed freely.
func copyFleetIdentity(f *Fleet) *Fleet {
	out := &Fleet{}
	for _, r := range f.Roles {
		r.Trust = append([]string(nil), r.Trust...)
		r.OIDCSubjects = append([]string(nil), r.OIDCSubjects...)
		out.Roles = append(out.Roles, r)
	}
	for _, p := range f.OIDCProviders {
		p.ClientIds = append([]string(nil), p.ClientIds...)
		out.OIDCProviders = append(out.OIDCProviders, p)
	}
	if f.ResourceDirectory != nil {
		out.ResourceDirectory = &ResourceDirectory{Members: append([]string(nil), f.ResourceDirectory.Members...)}
	}
	return out
}
