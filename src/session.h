#ifndef SESSION_H
#define SESSION_H
#endif
