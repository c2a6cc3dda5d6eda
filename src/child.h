#ifndef CHILD_H
#define CHILD_H
#endif
