package client_test

import "github.com/switchboard-lb/switchboard/client"

var startSwitchboard = client.StartSwitchboard
