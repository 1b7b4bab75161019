// libsqlite3's declarations for SVStore, the only door to SQLite.
#include <sqlite3.h>
