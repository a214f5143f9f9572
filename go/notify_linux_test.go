package hotgo

import (
	"os"
	"strconv"
	"testing"
)

func TestNotifyAbstract(t *testing.T) {
	name := "@hotgo-test-" + strconv.Itoa(os.Getpid())
	next := listenNotify(t, name, name)
	if err := Ready(); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
}
