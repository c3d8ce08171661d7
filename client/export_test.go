package client

// startSwitchboard runs Switchboard in process for the examples (package
// client_test); stop shuts it down.
func startSwitchboard() (url string, stop func()) {
	url, stop, err := inprocHub()
	if err != nil {
		panic(err)
	}
	return url, stop
}

// StartSwitchboard exports startSwitchboard to the examples.
var StartSwitchboard = startSwitchboard
