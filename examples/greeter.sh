#!/bin/sh
# Reads a name per message and answers "Hello, NAME!".
#   wsbridge --port=8080 examples/greeter.sh
while IFS= read -r name; do
    echo "Hello, $name!"
done
