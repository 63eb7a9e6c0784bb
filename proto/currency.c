/* ISO 4217 alphabetic currency codes, sorted: the list of iso-codes 4.15.0
 * (Debian 12), less the two codes that name no money (XTS, reserved for
 * testing; XXX, "no currency involved"), plus the two ISO has assigned
 * since that release: ZWG (Zimbabwe Gold, 2024) and XCG (Caribbean
 * guilder, 2025).  181 in all.
 *
 * Codes withdrawn after a currency changed (HRK, replaced by EUR in 2023;
 * SLL, by SLE) stay: a payment is evidence of the past, and a 2022 payment
 * in kuna is named in kuna.  tests/unit/test-currency.c checks the table
 * against /usr/share/iso-codes when it is installed. */
#include "currency.h"

#include "codetable.h"

#include <string.h>

static const char codes[][4] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
    "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP",
    "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU",
    "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB",
    "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HRK", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP",
    "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
    "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR",
    "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS",
    "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD",
    "XCG", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG",
    "ZWL",
};

bool am_currency_valid(const char *code)
{
    return am_code_listed(codes[0], sizeof codes / sizeof codes[0],
                          sizeof codes[0], code, 3);
}

size_t am_currency_count(void)
{
    return sizeof codes / sizeof codes[0];
}

const char *am_currency_at(size_t i)
{
    return i < am_currency_count() ? codes[i] : NULL;
}
