// The whole C boundary: librdkafka's public header. Swift calls it directly.
#include <librdkafka/rdkafka.h>
