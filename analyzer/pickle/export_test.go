package pickle

// SetFastPath switches the VM's fast path for differential tests and
// returns a function that restores it.
func SetFastPath(on bool) (restore func()) {
	old := fastPath
	fastPath = on
	return func() { fastPath = old }
}
