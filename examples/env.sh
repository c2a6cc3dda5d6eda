#!/bin/sh
# Sends the environment wsbridge gives the program, one variable per message.
#   wsbridge --port=8080 examples/env.sh
env | sort
