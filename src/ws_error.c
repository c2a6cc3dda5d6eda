#include "ws_error.h"

const char *ws_error_name(int err)
{
    switch (err) {
    case 0:
        return "OK";
#define WS_ERROR_NAME(name, code, msg)                                                             \
    case code:                                                                                     \
        return "WS_E_" #name;
        WS_ERROR_MAP(WS_ERROR_NAME)
#undef WS_ERROR_NAME
    default:
        return "WS_E_UNKNOWN";
    }
}

const char *ws_error_message(int err)
{
    switch (err) {
    case 0:
        return "success";
#define WS_ERROR_MSG(name, code, msg)                                                              \
    case code:                                                                                     \
        return msg;
        WS_ERROR_MAP(WS_ERROR_MSG)
#undef WS_ERROR_MSG
    default:
        return "unknown error";
    }
}
