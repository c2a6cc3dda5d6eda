#ifndef BRIDGE_H
#define BRIDGE_H
#endif
