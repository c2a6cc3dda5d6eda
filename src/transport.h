#ifndef TRANSPORT_H
#define TRANSPORT_H
#endif
