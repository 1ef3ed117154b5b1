/*
 * edi_schema.c — loop (segment group) tables for the transaction sets and
 * messages orderhub reads. Data, not code: each set lists the segments at
 * its top level and, per loop, the loop's first segment, its parent loop and
 * its other member segments (X12 004010/005010 and EDIFACT D.96A-D.01B
 * layouts, condensed: every segment a loop may hold, without positions or
 * repeat counts). A segment absent from a table is still kept in order and
 * reported as a warning with AK3 code 2 or 6 (EDIFACT UCS 15).
 */
#include "edi_int.h"

#include <string.h>

#define END {NULL, NULL, NULL, NULL}

/* ---- X12 ---- */

#define X12_PO1_MEMBERS                                                                   \
    "LIN SI CUR CN1 PO3 CTP PAM MEA PWK PO4 REF PER SAC IT8 CSH ITD DIS INC TAX FOB SDQ " \
    "IT3 DTM TC2 TD1 TD5 TD3 TD4 PCT MAN MSG SPI CTB"
#define X12_N1_MEMBERS "N2 N3 N4 NX2 REF PER SI FOB TD1 TD5 TD3 TD4 PKG DTM"

static const struct edi_loopdef l850[] = {
    {"N9", "N9", "", "DTM MSG"},
    {"N1", "N1", "", X12_N1_MEMBERS},
    {"LM", "LM", "", "LQ"},
    {"SPI", "SPI", "", "REF DTM MSG"},
    {"ADV", "ADV", "", "DTM MTX"},
    {"PO1", "PO1", "", X12_PO1_MEMBERS},
    {"PO1/PID", "PID", "PO1", "MEA"},
    {"PO1/SAC", "SAC", "PO1", "CUR CTP"},
    {"PO1/QTY", "QTY", "PO1", "SI"},
    {"PO1/SCH", "SCH", "PO1", "TD1 TD5 TD3 TD4 REF"},
    {"PO1/N9", "N9", "PO1", "DTM MEA MSG"},
    {"PO1/N1", "N1", "PO1", X12_N1_MEMBERS},
    {"PO1/SLN", "SLN", "PO1", "MSG SI PID PO3 TC2 ADV DTM CTP PAM PO4 TAX N9 N1 N2 N3 N4 NX2 REF PER"},
    {"PO1/AMT", "AMT", "PO1", "REF PCT"},
    {"PO1/LM", "LM", "PO1", "LQ"},
    {"CTT", "CTT", "", "AMT"},
    END,
};

static const struct edi_loopdef l855[] = {
    {"N9", "N9", "", "DTM MSG"},
    {"N1", "N1", "", X12_N1_MEMBERS},
    {"PO1", "PO1", "", X12_PO1_MEMBERS},
    {"PO1/PID", "PID", "PO1", "MEA"},
    {"PO1/SAC", "SAC", "PO1", "CUR CTP"},
    {"PO1/ACK", "ACK", "PO1", "DTM"},
    {"PO1/SCH", "SCH", "PO1", "TD1 TD5 TD3 TD4 REF"},
    {"PO1/N9", "N9", "PO1", "DTM MSG"},
    {"PO1/N1", "N1", "PO1", X12_N1_MEMBERS},
    {"PO1/SLN", "SLN", "PO1", "MSG SI PID PO3 ACK DTM CTP PO4 TAX N9 N1 N2 N3 N4 REF PER"},
    {"CTT", "CTT", "", "AMT"},
    END,
};

static const struct edi_loopdef l856[] = {
    {"HL", "HL", "",
     "LIN SN1 SLN PRF PO4 PID MEA PWK PKG TD1 TD5 TD3 TD4 REF PER LH1 LH2 LH3 LFH LEP LH4 "
     "LHT LHR CLD MAN DTM FOB PAL N9 CUR SAC GF YNQ LM LQ V1 TSD MSG"},
    {"HL/N1", "N1", "HL", "N2 N3 N4 REF PER FOB"},
    {"HL/SLN", "SLN", "HL", ""},
    END,
};

static const struct edi_loopdef l810[] = {
    {"N1", "N1", "", "N2 N3 N4 REF PER DMG"},
    {"N9", "N9", "", "MSG"},
    {"IT1", "IT1", "",
     "CRC QTY CUR IT3 TXI CTP PAM MEA PWK PKG PO4 ITD REF YNQ PER IT8 DTM CAD L7 SR"},
    {"IT1/PID", "PID", "IT1", "MEA"},
    {"IT1/SAC", "SAC", "IT1", "TXI"},
    {"IT1/SLN", "SLN", "IT1", "DTM REF PID SAC TC2 TXI"},
    {"IT1/N1", "N1", "IT1", "N2 N3 N4 REF PER DMG"},
    {"IT1/LM", "LM", "IT1", "LQ"},
    {"IT1/FA1", "FA1", "IT1", "FA2"},
    {"SAC", "SAC", "", "TXI"},
    {"ISS", "ISS", "", "PID"},
    END,
};

static const struct edi_loopdef l846[] = {
    {"N1", "N1", "", "N2 N3 N4 PER"},
    {"LIN", "LIN", "", "SLN PID DTM REF PER MEA PKG TD1 TD5 TD4 MAN CTP CUR"},
    {"LIN/SLN", "SLN", "LIN", ""},
    {"LIN/QTY", "QTY", "LIN", "SCH"},
    {"LIN/N1", "N1", "LIN", "N2 N3 N4 PER"},
    END,
};

static const struct edi_loopdef l940[] = {
    {"N1", "N1", "", "N2 N3 N4 REF PER FOB"},
    {"LM", "LM", "", "LQ"},
    {"LX", "LX", "", "MAN N9 PAL"},
    {"LX/W01", "W01", "LX", "G69 N9 G62 QTY MAN AMT NTE MEA"},
    {"LX/W01/LM", "LM", "LX/W01", "LQ"},
    END,
};

static const struct edi_loopdef l945[] = {
    {"N1", "N1", "", "N2 N3 N4 REF PER"},
    {"LM", "LM", "", "LQ"},
    {"LX", "LX", "", "MAN PAL N9"},
    {"LX/W12", "W12", "LX", "G69 N9 G62 QTY MAN AMT NTE MEA"},
    {"LX/W12/LM", "LM", "LX/W12", "LQ"},
    END,
};

static const struct edi_loopdef l997[] = {
    {"AK2", "AK2", "", "AK5"},
    {"AK2/AK3", "AK3", "AK2", "AK4"},
    END,
};

static const struct edi_loopdef l999[] = {
    {"AK2", "AK2", "", "IK5"},
    {"AK2/IK3", "IK3", "AK2", "CTX"},
    {"AK2/IK3/IK4", "IK4", "AK2/IK3", "CTX"},
    END,
};

/* ---- EDIFACT ---- */

#define EF_LIN_MEMBERS "PIA IMD MEA QTY PCD ALI DTM MOA GIN GIR QVR DOC PAI FTX EDT DLM"

static const struct edi_loopdef orders[] = {
    {"RFF", "RFF", "", "DTM"},
    {"NAD", "NAD", "", "LOC FII"},
    {"NAD/RFF", "RFF", "NAD", "DTM"},
    {"NAD/DOC", "DOC", "NAD", "DTM"},
    {"NAD/CTA", "CTA", "NAD", "COM"},
    {"TAX", "TAX", "", "MOA LOC"},
    {"CUX", "CUX", "", "PCD DTM"},
    {"PAT", "PAT", "", "DTM PCD MOA"},
    {"TDT", "TDT", "", "LOC DTM"},
    {"TOD", "TOD", "", "LOC"},
    {"PAC", "PAC", "", "MEA PCI RFF DTM GIN"},
    {"EQD", "EQD", "", "HAN MEA FTX"},
    {"SCC", "SCC", "", "FTX RFF QTY DTM"},
    {"APR", "APR", "", "DTM RNG"},
    {"ALC", "ALC", "", "ALI DTM QTY RNG PCD MOA RTE TAX"},
    {"RCS", "RCS", "", "RFF DTM FTX"},
    {"LIN", "LIN", "", EF_LIN_MEMBERS},
    {"LIN/PRI", "PRI", "LIN", "CUX APR RNG DTM"},
    {"LIN/RFF", "RFF", "LIN", "DTM"},
    {"LIN/PAC", "PAC", "LIN", "MEA QTY DTM RFF PCI GIN"},
    {"LIN/LOC", "LOC", "LIN", "QTY DTM"},
    {"LIN/TAX", "TAX", "LIN", "MOA LOC"},
    {"LIN/NAD", "NAD", "LIN", "LOC RFF DOC CTA COM"},
    {"LIN/ALC", "ALC", "LIN", "ALI DTM QTY RNG PCD MOA RTE TAX"},
    {"LIN/TDT", "TDT", "LIN", "LOC DTM"},
    {"LIN/TOD", "TOD", "LIN", "LOC"},
    {"LIN/EQD", "EQD", "LIN", "HAN MEA FTX"},
    {"LIN/SCC", "SCC", "LIN", "FTX RFF QTY DTM"},
    {"LIN/RCS", "RCS", "LIN", "RFF DTM FTX"},
    {"LIN/STG", "STG", "LIN", "QTY"},
    {"MOA", "MOA", "", ""},
    END,
};

static const struct edi_loopdef desadv[] = {
    {"RFF", "RFF", "", "DTM"},
    {"NAD", "NAD", "", "LOC"},
    {"NAD/RFF", "RFF", "NAD", "DTM"},
    {"NAD/CTA", "CTA", "NAD", "COM"},
    {"TOD", "TOD", "", "LOC FTX"},
    {"TDT", "TDT", "", "PCD"},
    {"TDT/LOC", "LOC", "TDT", "DTM"},
    {"EQD", "EQD", "", "MEA SEL EQA HAN"},
    {"CPS", "CPS", "", "FTX"},
    {"CPS/PAC", "PAC", "CPS", "MEA QTY HAN"},
    {"CPS/PAC/PCI", "PCI", "CPS/PAC", "RFF DTM GIR GIN"},
    {"CPS/LIN", "LIN", "CPS",
     "PIA IMD MEA QTY ALI GIN GIR DLM DTM FTX MOA"},
    {"CPS/LIN/RFF", "RFF", "CPS/LIN", "DTM"},
    {"CPS/LIN/PCI", "PCI", "CPS/LIN", "DTM MEA QTY GIN"},
    {"CPS/LIN/LOC", "LOC", "CPS/LIN", "NAD GIN GIR QTY DTM"},
    {"CPS/LIN/QVR", "QVR", "CPS/LIN", "DTM"},
    END,
};

static const struct edi_loopdef invoic[] = {
    {"RFF", "RFF", "", "DTM"},
    {"NAD", "NAD", "", "LOC FII"},
    {"NAD/RFF", "RFF", "NAD", "DTM"},
    {"NAD/DOC", "DOC", "NAD", "DTM"},
    {"NAD/CTA", "CTA", "NAD", "COM"},
    {"TAX", "TAX", "", "MOA LOC"},
    {"CUX", "CUX", "", "DTM"},
    {"PAT", "PAT", "", "DTM PCD MOA PAI FII"},
    {"TDT", "TDT", "", "LOC"},
    {"TOD", "TOD", "", "LOC"},
    {"PAC", "PAC", "", "MEA PCI RFF DTM GIN"},
    {"ALC", "ALC", "", "ALI FTX RFF DTM QTY RNG PCD MOA RTE TAX"},
    {"RCS", "RCS", "", "RFF DTM FTX"},
    {"LIN", "LIN", "", "PIA IMD MEA QTY PCD ALI DTM GIN GIR QVR EDT FTX"},
    {"LIN/MOA", "MOA", "LIN", "CUX"},
    {"LIN/PAT", "PAT", "LIN", "DTM PCD MOA"},
    {"LIN/PRI", "PRI", "LIN", "CUX APR RNG DTM"},
    {"LIN/RFF", "RFF", "LIN", "DTM"},
    {"LIN/PAC", "PAC", "LIN", "MEA PCI RFF DTM GIN"},
    {"LIN/LOC", "LOC", "LIN", "QTY DTM"},
    {"LIN/TAX", "TAX", "LIN", "MOA LOC"},
    {"LIN/NAD", "NAD", "LIN", "LOC RFF DTM DOC CTA COM"},
    {"LIN/ALC", "ALC", "LIN", "ALI DTM QTY RNG PCD MOA RTE TAX"},
    {"LIN/TDT", "TDT", "LIN", "LOC"},
    {"MOA", "MOA", "", "RFF"},
    END,
};

static const struct edi_loopdef contrl[] = {
    {"UCF", "UCF", "", ""},
    {"UCF/UCM", "UCM", "UCF", ""},
    {"UCF/UCM/UCS", "UCS", "UCF/UCM", "UCD"},
    {"UCM", "UCM", "", ""},
    {"UCM/UCS", "UCS", "UCM", "UCD"},
    END,
};

static const struct edi_loopdef aperak[] = {
    {"DOC", "DOC", "", "DTM"},
    {"RFF", "RFF", "", "DTM"},
    {"NAD", "NAD", "", "CTA COM"},
    {"ERC", "ERC", "", "FTX"},
    {"ERC/RFF", "RFF", "ERC", "FTX"},
    END,
};

static const struct edi_schema schemas[] = {
    {OH_EDI_X12, "850", 0,
     "ST BEG CUR REF PER TAX FOB CTP PAM CSH TC2 SAC ITD DIS INC DTM LDT LIN SI PID MEA PWK "
     "PKG TD1 TD5 TD3 TD4 MAN PCT CTB TXI AMT SE",
     l850},
    {OH_EDI_X12, "855", 0,
     "ST BAK CUR REF PER TAX FOB CTP PAM CSH SAC ITD DIS INC DTM LDT LIN SI PID MEA PWK PKG "
     "TD1 TD5 TD3 TD4 MAN TXI CTB AMT SE",
     l855},
    {OH_EDI_X12, "856", 1, "ST BSN DTM CTT SE", l856},
    {OH_EDI_X12, "810", 0,
     "ST BIG NTE CUR REF YNQ PER DTM ITD FOB PID MEA PWK PKG L7 BAL INC PAM LDT NCD TDS TXI CAD "
     "AMT CTT SE",
     l810},
    {OH_EDI_X12, "846", 0, "ST BIA CUR REF PER MEA DTM CTT SE", l846},
    {OH_EDI_X12, "940", 0, "ST W05 N9 G62 NTE W66 W76 SE", l940},
    {OH_EDI_X12, "945", 0, "ST W06 N9 G62 NTE W27 W10 W03 SE", l945},
    {OH_EDI_X12, "997", 0, "ST AK1 AK9 SE", l997},
    {OH_EDI_X12, "999", 0, "ST AK1 AK9 SE", l999},
    {OH_EDI_EDIFACT, "ORDERS", 0, "UNH BGM DTM PAI ALI IMD FTX UNS CNT UNT", orders},
    {OH_EDI_EDIFACT, "ORDRSP", 0, "UNH BGM DTM PAI ALI IMD FTX UNS CNT UNT", orders},
    {OH_EDI_EDIFACT, "DESADV", 0, "UNH BGM DTM ALI MEA MOA CNT UNT", desadv},
    {OH_EDI_EDIFACT, "INVOIC", 0, "UNH BGM DTM PAI ALI IMD FTX LOC GIS UNS CNT UNT", invoic},
    {OH_EDI_EDIFACT, "CONTRL", 0, "UNH UCI UNT", contrl},
    {OH_EDI_EDIFACT, "APERAK", 0, "UNH BGM DTM FTX CNT UNT", aperak},
};

const struct edi_schema *edi_schema_find(enum oh_edi_syntax syntax, const char *id)
{
    for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
        if (schemas[i].syntax == syntax && strcmp(schemas[i].id, id) == 0)
            return &schemas[i];
    return NULL;
}

/* A few element rules worth checking without a full data dictionary: the
 * quantities, prices and amounts a mapping turns into numbers, and the
 * qualifiers a mapping filters on. type 'n': numeric (sign, digits, one
 * decimal mark); maxlen 0: no length rule. */
static const struct edi_elemrule rules[] = {
    {OH_EDI_X12, "PO1", 2, 0, 'n', 15},
    {OH_EDI_X12, "PO1", 4, 0, 'n', 17},
    {OH_EDI_X12, "IT1", 2, 0, 'n', 10},
    {OH_EDI_X12, "IT1", 4, 0, 'n', 17},
    {OH_EDI_X12, "SN1", 2, 0, 'n', 10},
    {OH_EDI_X12, "CTT", 1, 0, 'n', 6},
    {OH_EDI_X12, "N1", 1, 0, 'a', 3},
    {OH_EDI_X12, "HL", 1, 0, 'a', 12},
    {OH_EDI_EDIFACT, "QTY", 1, 2, 'n', 35},
    {OH_EDI_EDIFACT, "PRI", 1, 2, 'n', 15},
    {OH_EDI_EDIFACT, "MOA", 1, 2, 'n', 35},
    {OH_EDI_EDIFACT, "CNT", 1, 2, 'n', 18},
    {OH_EDI_EDIFACT, "NAD", 1, 0, 'a', 3},
    {OH_EDI_EDIFACT, "QTY", 1, 1, 'a', 3},
    {OH_EDI_EDIFACT, "PRI", 1, 1, 'a', 3},
    {OH_EDI_EDIFACT, "MOA", 1, 1, 'a', 3},
    {OH_EDI_EDIFACT, "DTM", 1, 1, 'a', 3},
    {OH_EDI_EDIFACT, "RFF", 1, 1, 'a', 3},
    {0, NULL, 0, 0, 0, 0},
};

const struct edi_elemrule *edi_rules_for(enum oh_edi_syntax syntax, const char *seg, size_t n)
{
    for (const struct edi_elemrule *r = rules; r->seg; r++)
        if (r->syntax == syntax && strlen(r->seg) == n && memcmp(r->seg, seg, n) == 0)
            return r;
    return NULL;
}

int edi_rule_check(const struct edi_elemrule *r, const char *v, size_t n, char dec)
{
    if (!n)
        return 0;
    if (r->maxlen && n > r->maxlen)
        return 1; /* too long */
    if (r->type == 'n') {
        size_t i = 0;
        int digits = 0, marks = 0;
        if (v[0] == '-' || v[0] == '+')
            i++;
        for (; i < n; i++) {
            if (v[i] >= '0' && v[i] <= '9')
                digits++;
            else if ((v[i] == '.' || (dec && v[i] == dec)) && !marks)
                marks++;
            else
                return 2; /* not a number */
        }
        if (!digits)
            return 2;
    }
    return 0;
}
