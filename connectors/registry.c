/* registry.c — the one table of connectors. Adding a connector adds one
 * line here and its folder, nothing else. */
#include "connector.h"

#include <string.h>

extern const struct oh_connector oh_connector_dir;
extern const struct oh_connector oh_connector_edi;
extern const struct oh_connector oh_connector_sftp;
extern const struct oh_connector oh_connector_shopify;
extern const struct oh_connector oh_connector_woocommerce;

static const struct oh_connector *const registry[] = {
    &oh_connector_dir,
    &oh_connector_edi,
    &oh_connector_sftp,
    &oh_connector_shopify,
    &oh_connector_woocommerce,
    NULL,
};

const struct oh_connector *oh_connector_find(const char *type)
{
    for (size_t i = 0; registry[i]; i++)
        if (strcmp(registry[i]->type, type) == 0)
            return registry[i];
    return NULL;
}

const struct oh_connector *const *oh_connector_all(void) { return registry; }
