/* cmd_tools.c — `map` and `edi`: thin doors into their modules. */
#include <string.h>

#include "cli.h"
#include "connectors/edi/edi.h"
#include "map/map.h"

int oh_cli_map(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "test") == 0)
        return oh_map_cli_test(argc - 1, argv + 1);
    return oh_map_cli_run(argc, argv);
}

int oh_cli_edi(int argc, char **argv)
{
    /* status needs the config and the store; the codec commands need neither */
    if (argc >= 2 && strcmp(argv[1], "status") == 0)
        return oh_cli_edi_status(argc - 1, argv + 1);
    return oh_edi_cli(argc, argv);
}
