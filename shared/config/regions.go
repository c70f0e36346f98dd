package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ecs-stopper/stopper/shared/stopper"
)

// knownRegions are the public Alibaba Cloud regions' ids, plus the finance
// and government ones, as listed at
// https://www.alibabacloud.com/help/en/ecs/product-overview/regions-and-zones
// A region missing here is only a warning at start-up (regions are added
// over time); one within two edits of these is refused as a misspelling.
var knownRegions = []string{
	// Chinese mainland
	"cn-qingdao", "cn-beijing", "cn-zhangjiakou", "cn-huhehaote", "cn-wulanchabu",
	"cn-hangzhou", "cn-shanghai", "cn-nanjing", "cn-fuzhou", "cn-wuhan-lr",
	"cn-shenzhen", "cn-heyuan", "cn-guangzhou", "cn-chengdu",
	// Finance and government clouds
	"cn-hangzhou-finance", "cn-shanghai-finance-1", "cn-shenzhen-finance-1",
	"cn-beijing-finance-1", "cn-north-2-gov-1",
	// Outside the Chinese mainland
	"cn-hongkong", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1",
	"ap-southeast-3", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
	"ap-south-1", "us-east-1", "us-west-1", "na-south-1", "eu-west-1",
	"eu-central-1", "me-east-1", "me-central-1",
}

// misspeltRegion is how many edits from a known region an unknown id is
// taken for a misspelling of it rather than a new region.
const misspeltRegion = 2

// checkRegions checks the region ids of s's value v: malformed or a known
// region misspelt is refused; unknown otherwise is a warning.
func checkRegions(s setting, v string) ([]string, error) {
	ids := []string{v}
	if s.Kind == kindList {
		ids = strings.Split(v, ",")
	}
	var warnings []string
	for _, r := range ids {
		if r == "" || slices.Contains(knownRegions, r) {
			continue // unset, or an empty list (checkValue refused empty items)
		}
		subject := ""
		if s.Kind == kindList {
			subject = fmt.Sprintf("names %q, which ", r)
		}
		if !stopper.ValidRegionID(r) {
			return nil, refuse(s.Name, v, subject+"is not a region id", "give lowercase letters, digits and hyphens, such as cn-hangzhou")
		}
		if near, d := closest(r, knownRegions); d <= misspeltRegion {
			return nil, refuse(s.Name, v, subject+"is not an Alibaba Cloud region", "did you mean "+near+"?")
		}
		warnings = append(warnings, fmt.Sprintf("configuration: %s=%s: %s is not a region this version knows; it is used as given (regions are added over time), but check its spelling", s.Name, shown(s.Name, v), r))
	}
	return warnings, nil
}
