package trigger

import (
	"github.com/ecs-stopper/stopper/shared/stopper"
)

// Events of AWS services that deliver records: {"Records": [...]}, whose
// first record names the service (SQS's eventSource, SNS's EventSource).

var fieldRecords = probeField("Records")

// otherRecords takes the records of any service no source reads, for
// Direct: the request decoder refuses them, naming Records.
var otherRecords = source{
	kind:   Direct,
	rank:   60, // after every source that reads Records
	detect: detection{has: []field{fieldRecords}},
	handle: handleDirect,
}

func init() { register(&otherRecords) }

// recordItems reads the Records of an SQS or SNS event: each record's
// message is a request, decoded on its own.
func recordItems(event []byte, what string, message func(record map[string][]byte) (id string, body []byte, ok bool)) ([]stopper.Item, error) {
	fields, err := eventFields(event, what)
	if err != nil {
		return nil, undeliverable(err)
	}
	var bad error
	items, err := arrayItems(fields["Records"], what+"'s Records", func(i int, raw []byte) stopper.Item {
		record, err := eventFields(raw, what+"'s record")
		if err != nil {
			bad = err
			return stopper.Item{}
		}
		id, body, ok := message(record)
		if !ok || id == "" {
			bad = stopper.Invalid("Records", "record #%d has no message id or body: %s", i, what)
			return stopper.Item{}
		}
		it := stopper.Item{Id: id}
		it.Request, it.Err = stopper.DecodeRequest(body)
		return it
	})
	if err != nil {
		return nil, undeliverable(err)
	}
	if bad != nil {
		return nil, undeliverable(bad)
	}
	return items, nil
}

// undeliverable fails a whole queue delivery that cannot be answered item
// by item: as a function error, so that the platform retries it and then
// hands it to the dead-letter queue, rather than as an answer, which would
// count every message as done.
func undeliverable(err error) error {
	return &stopper.Error{Code: stopper.CodeInvalidParameter, Transient: true,
		Message: stopper.AsError(err).Message + " (the whole delivery is failed, so that it is retried and then dead-lettered, not lost)"}
}
