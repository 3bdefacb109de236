package cfgsnap

const crashChildEnv = "CFGSNAP_CRASH_CHILD_DIR"

func crashChild(dir string) {}
