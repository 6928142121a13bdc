/*  xinf.h: the public interface of libxinf, the xinf actor runtime.  */
#ifndef XINF_H_INCLUDED
#define XINF_H_INCLUDED

#define XINF_VERSION_STRING "0.1.0"

#include "xinf_log.h"
#include "xinf_config.h"
#include "xinf_mpack.h"
#include "xinf_value.h"
#include "xinf_check.h"
#include "xinf_mpscan.h"
#include "xinf_msg.h"
#include "xinf_waits.h"
#include "xinf_heartbeat.h"
#include "xinf_endpoint.h"
#include "xinf_router.h"
#include "xinf_actor.h"
#include "xinf_roles.h"
#include "xinf_fsm.h"
#include "xinf_auth.h"
#include "xinf_malloc.h"

#endif
