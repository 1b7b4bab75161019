// libsystemd's declarations, for the typed function pointers svd fills with dlsym.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
