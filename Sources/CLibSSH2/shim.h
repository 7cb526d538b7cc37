#ifndef FLEET_CLIBSSH2_SHIM_H
#define FLEET_CLIBSSH2_SHIM_H
#include <libssh2.h>
// libssh2's convenience API is C macros, which Swift cannot call: re-export the ones
// FleetSSH uses as static inline functions here.
#endif
