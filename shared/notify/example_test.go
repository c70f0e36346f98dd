package notify_test

import (
	"fmt"

	"github.com/ecs-stopper/stopper/shared/notify"
)

// The format follows from the webhook's host; the URL's secret parts never
// show, in logs or errors.
func ExampleNew() {
	n, err := notify.New(notify.Options{
		URL:    "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef",
		Secret: "SEC0123456789abcdef",
	})
	fmt.Println(n, err)
	_, err = notify.New(notify.Options{URL: "http://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX"})
	fmt.Println(err)
	// Output:
	// dingtalk https://oapi.dingtalk.com/robot/send?access_token=[redacted] <nil>
	// STOPPER_NOTIFY_URL http://hooks.slack.com/services/[redacted]: use https:// (http:// is allowed only for a local receiver on localhost, 127.0.0.1 or ::1)
}
