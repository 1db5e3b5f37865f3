package poller

// DecodeReasons are the values of RecordError.Reason: why a record of a
// CustomerFull page could not be decoded. They label dead letters (the
// covacdc-reason header, the reason label of covacdc_dead_letters_total).
func DecodeReasons() []string {
	return []string{"bad_json", "not_object", "bad_type", "bad_id", "bad_timestamp",
		"missing_id", "missing_version", "missing_last_modified"}
}
