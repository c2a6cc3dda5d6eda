#!/bin/sh
# A line program: numbers each message it gets and sends it back.
#   wsbridge --port=8080 examples/chat.sh
n=0
while IFS= read -r line; do
    n=$((n + 1))
    echo "[$n] you said: $line"
done
echo "bye after $n messages"
