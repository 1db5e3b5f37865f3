package covatest_test

import (
	"fmt"
	"net/http"

	"github.com/covacdc/covacdc/poller/covatest"
)

// A test starts a simulator, loads a company and turns on the hazards its client
// must survive; afterwards it compares what the client delivered with Truth.
func ExampleNewServer() {
	sim := covatest.NewServer(covatest.Config{Seed: 42, Order: covatest.OrderGUID})
	defer sim.Close()
	sim.Generate(1, 1000)
	sim.SetHazards(covatest.Hazards{ModifyPerPage: 3, Status429: 1, RetryAfter: "1"})

	// ... run the client against sim.BaseURL() and sim.TokenURL() ...
	resp, err := http.Get(sim.BaseURL() + "/v1/Companies(1)/CustomerFull")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	fmt.Println(resp.StatusCode, len(sim.Truth(1)))
	// Output: 401 1000
}
