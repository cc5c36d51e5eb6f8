/* Built-in approximate country centroids (ISO 3166-1 alpha-2, plus XK for
 * Kosovo, which MaxMind uses). They give a location to clients of a
 * country-only database so that regions can still be ordered by distance: a
 * country's middle is a rough but stable guess, and for small countries it is
 * as good as a city. The table is sorted by code for bsearch. */
#include <stdlib.h>

#include "gslb/err.h"
#include "gslb/geo.h"

struct centroid {
	char cc[3];
	double lat, lon;
};

static const struct centroid centroids[] = {
	{ "AD", 42.546, 1.602 },     /* Andorra */
	{ "AE", 23.424, 53.848 },    /* United Arab Emirates */
	{ "AF", 33.939, 67.710 },    /* Afghanistan */
	{ "AG", 17.061, -61.796 },   /* Antigua and Barbuda */
	{ "AI", 18.221, -63.069 },   /* Anguilla */
	{ "AL", 41.153, 20.168 },    /* Albania */
	{ "AM", 40.069, 45.038 },    /* Armenia */
	{ "AO", -11.203, 17.874 },   /* Angola */
	{ "AQ", -75.251, -0.071 },   /* Antarctica */
	{ "AR", -38.416, -63.617 },  /* Argentina */
	{ "AS", -14.271, -170.132 }, /* American Samoa */
	{ "AT", 47.516, 14.550 },    /* Austria */
	{ "AU", -25.274, 133.775 },  /* Australia */
	{ "AW", 12.521, -69.968 },   /* Aruba */
	{ "AX", 60.179, 19.916 },    /* Aland Islands */
	{ "AZ", 40.143, 47.577 },    /* Azerbaijan */
	{ "BA", 43.916, 17.679 },    /* Bosnia and Herzegovina */
	{ "BB", 13.194, -59.543 },   /* Barbados */
	{ "BD", 23.685, 90.356 },    /* Bangladesh */
	{ "BE", 50.504, 4.470 },     /* Belgium */
	{ "BF", 12.238, -1.562 },    /* Burkina Faso */
	{ "BG", 42.734, 25.486 },    /* Bulgaria */
	{ "BH", 25.930, 50.638 },    /* Bahrain */
	{ "BI", -3.373, 29.919 },    /* Burundi */
	{ "BJ", 9.308, 2.316 },      /* Benin */
	{ "BL", 17.900, -62.833 },   /* Saint Barthelemy */
	{ "BM", 32.321, -64.757 },   /* Bermuda */
	{ "BN", 4.535, 114.728 },    /* Brunei */
	{ "BO", -16.290, -63.589 },  /* Bolivia */
	{ "BQ", 12.178, -68.238 },   /* Caribbean Netherlands */
	{ "BR", -14.235, -51.925 },  /* Brazil */
	{ "BS", 25.034, -77.396 },   /* Bahamas */
	{ "BT", 27.514, 90.434 },    /* Bhutan */
	{ "BV", -54.423, 3.413 },    /* Bouvet Island */
	{ "BW", -22.328, 24.685 },   /* Botswana */
	{ "BY", 53.710, 27.953 },    /* Belarus */
	{ "BZ", 17.190, -88.498 },   /* Belize */
	{ "CA", 56.130, -106.347 },  /* Canada */
	{ "CC", -12.164, 96.871 },   /* Cocos (Keeling) Islands */
	{ "CD", -4.038, 21.759 },    /* DR Congo */
	{ "CF", 6.611, 20.939 },     /* Central African Republic */
	{ "CG", -0.228, 15.828 },    /* Congo */
	{ "CH", 46.818, 8.228 },     /* Switzerland */
	{ "CI", 7.540, -5.547 },     /* Cote d'Ivoire */
	{ "CK", -21.237, -159.778 }, /* Cook Islands */
	{ "CL", -35.675, -71.543 },  /* Chile */
	{ "CM", 7.370, 12.355 },     /* Cameroon */
	{ "CN", 35.862, 104.195 },   /* China */
	{ "CO", 4.571, -74.297 },    /* Colombia */
	{ "CR", 9.749, -83.753 },    /* Costa Rica */
	{ "CU", 21.522, -77.781 },   /* Cuba */
	{ "CV", 16.002, -24.013 },   /* Cabo Verde */
	{ "CW", 12.170, -68.990 },   /* Curacao */
	{ "CX", -10.448, 105.690 },  /* Christmas Island */
	{ "CY", 35.126, 33.430 },    /* Cyprus */
	{ "CZ", 49.817, 15.473 },    /* Czechia */
	{ "DE", 51.166, 10.452 },    /* Germany */
	{ "DJ", 11.825, 42.590 },    /* Djibouti */
	{ "DK", 56.264, 9.502 },     /* Denmark */
	{ "DM", 15.415, -61.371 },   /* Dominica */
	{ "DO", 18.736, -70.163 },   /* Dominican Republic */
	{ "DZ", 28.034, 1.660 },     /* Algeria */
	{ "EC", -1.831, -78.183 },   /* Ecuador */
	{ "EE", 58.595, 25.014 },    /* Estonia */
	{ "EG", 26.821, 30.802 },    /* Egypt */
	{ "EH", 24.216, -12.886 },   /* Western Sahara */
	{ "ER", 15.179, 39.782 },    /* Eritrea */
	{ "ES", 40.464, -3.749 },    /* Spain */
	{ "ET", 9.145, 40.490 },     /* Ethiopia */
	{ "FI", 61.924, 25.748 },    /* Finland */
	{ "FJ", -16.578, 179.414 },  /* Fiji */
	{ "FK", -51.796, -59.524 },  /* Falkland Islands */
	{ "FM", 7.426, 150.551 },    /* Micronesia */
	{ "FO", 61.893, -6.912 },    /* Faroe Islands */
	{ "FR", 46.228, 2.214 },     /* France */
	{ "GA", -0.804, 11.609 },    /* Gabon */
	{ "GB", 55.378, -3.436 },    /* United Kingdom */
	{ "GD", 12.263, -61.604 },   /* Grenada */
	{ "GE", 42.315, 43.357 },    /* Georgia */
	{ "GF", 3.934, -53.126 },    /* French Guiana */
	{ "GG", 49.466, -2.585 },    /* Guernsey */
	{ "GH", 7.947, -1.023 },     /* Ghana */
	{ "GI", 36.138, -5.345 },    /* Gibraltar */
	{ "GL", 71.707, -42.604 },   /* Greenland */
	{ "GM", 13.443, -15.310 },   /* Gambia */
	{ "GN", 9.946, -9.697 },     /* Guinea */
	{ "GP", 16.996, -62.068 },   /* Guadeloupe */
	{ "GQ", 1.651, 10.268 },     /* Equatorial Guinea */
	{ "GR", 39.074, 21.824 },    /* Greece */
	{ "GS", -54.430, -36.588 },  /* South Georgia and the South Sandwich Islands */
	{ "GT", 15.783, -90.231 },   /* Guatemala */
	{ "GU", 13.444, 144.794 },   /* Guam */
	{ "GW", 11.804, -15.180 },   /* Guinea-Bissau */
	{ "GY", 4.860, -58.930 },    /* Guyana */
	{ "HK", 22.396, 114.109 },   /* Hong Kong */
	{ "HM", -53.082, 73.504 },   /* Heard Island and McDonald Islands */
	{ "HN", 15.200, -86.242 },   /* Honduras */
	{ "HR", 45.100, 15.200 },    /* Croatia */
	{ "HT", 18.971, -72.285 },   /* Haiti */
	{ "HU", 47.162, 19.503 },    /* Hungary */
	{ "ID", -0.789, 113.921 },   /* Indonesia */
	{ "IE", 53.413, -8.244 },    /* Ireland */
	{ "IL", 31.046, 34.852 },    /* Israel */
	{ "IM", 54.236, -4.548 },    /* Isle of Man */
	{ "IN", 20.594, 78.963 },    /* India */
	{ "IO", -6.343, 71.877 },    /* British Indian Ocean Territory */
	{ "IQ", 33.223, 43.679 },    /* Iraq */
	{ "IR", 32.428, 53.688 },    /* Iran */
	{ "IS", 64.963, -19.021 },   /* Iceland */
	{ "IT", 41.872, 12.567 },    /* Italy */
	{ "JE", 49.214, -2.131 },    /* Jersey */
	{ "JM", 18.110, -77.298 },   /* Jamaica */
	{ "JO", 30.585, 36.238 },    /* Jordan */
	{ "JP", 36.205, 138.253 },   /* Japan */
	{ "KE", -0.024, 37.906 },    /* Kenya */
	{ "KG", 41.204, 74.766 },    /* Kyrgyzstan */
	{ "KH", 12.566, 104.991 },   /* Cambodia */
	{ "KI", -3.370, -168.734 },  /* Kiribati */
	{ "KM", -11.875, 43.872 },   /* Comoros */
	{ "KN", 17.358, -62.783 },   /* Saint Kitts and Nevis */
	{ "KP", 40.340, 127.510 },   /* North Korea */
	{ "KR", 35.908, 127.767 },   /* South Korea */
	{ "KW", 29.312, 47.482 },    /* Kuwait */
	{ "KY", 19.513, -80.567 },   /* Cayman Islands */
	{ "KZ", 48.020, 66.924 },    /* Kazakhstan */
	{ "LA", 19.856, 102.495 },   /* Laos */
	{ "LB", 33.855, 35.862 },    /* Lebanon */
	{ "LC", 13.909, -60.979 },   /* Saint Lucia */
	{ "LI", 47.166, 9.555 },     /* Liechtenstein */
	{ "LK", 7.873, 80.772 },     /* Sri Lanka */
	{ "LR", 6.428, -9.429 },     /* Liberia */
	{ "LS", -29.610, 28.234 },   /* Lesotho */
	{ "LT", 55.169, 23.881 },    /* Lithuania */
	{ "LU", 49.815, 6.130 },     /* Luxembourg */
	{ "LV", 56.880, 24.603 },    /* Latvia */
	{ "LY", 26.335, 17.228 },    /* Libya */
	{ "MA", 31.792, -7.093 },    /* Morocco */
	{ "MC", 43.750, 7.413 },     /* Monaco */
	{ "MD", 47.412, 28.370 },    /* Moldova */
	{ "ME", 42.709, 19.374 },    /* Montenegro */
	{ "MF", 18.083, -63.052 },   /* Saint Martin */
	{ "MG", -18.767, 46.869 },   /* Madagascar */
	{ "MH", 7.131, 171.184 },    /* Marshall Islands */
	{ "MK", 41.609, 21.745 },    /* North Macedonia */
	{ "ML", 17.571, -3.996 },    /* Mali */
	{ "MM", 21.914, 95.956 },    /* Myanmar */
	{ "MN", 46.862, 103.847 },   /* Mongolia */
	{ "MO", 22.199, 113.544 },   /* Macao */
	{ "MP", 17.331, 145.385 },   /* Northern Mariana Islands */
	{ "MQ", 14.642, -61.024 },   /* Martinique */
	{ "MR", 21.008, -10.941 },   /* Mauritania */
	{ "MS", 16.742, -62.187 },   /* Montserrat */
	{ "MT", 35.937, 14.375 },    /* Malta */
	{ "MU", -20.348, 57.552 },   /* Mauritius */
	{ "MV", 3.203, 73.221 },     /* Maldives */
	{ "MW", -13.254, 34.302 },   /* Malawi */
	{ "MX", 23.635, -102.553 },  /* Mexico */
	{ "MY", 4.210, 101.976 },    /* Malaysia */
	{ "MZ", -18.666, 35.530 },   /* Mozambique */
	{ "NA", -22.958, 18.490 },   /* Namibia */
	{ "NC", -20.904, 165.618 },  /* New Caledonia */
	{ "NE", 17.608, 8.082 },     /* Niger */
	{ "NF", -29.041, 167.955 },  /* Norfolk Island */
	{ "NG", 9.082, 8.675 },      /* Nigeria */
	{ "NI", 12.865, -85.207 },   /* Nicaragua */
	{ "NL", 52.133, 5.291 },     /* Netherlands */
	{ "NO", 60.472, 8.469 },     /* Norway */
	{ "NP", 28.395, 84.124 },    /* Nepal */
	{ "NR", -0.523, 166.932 },   /* Nauru */
	{ "NU", -19.054, -169.867 }, /* Niue */
	{ "NZ", -40.901, 174.886 },  /* New Zealand */
	{ "OM", 21.513, 55.923 },    /* Oman */
	{ "PA", 8.538, -80.782 },    /* Panama */
	{ "PE", -9.190, -75.015 },   /* Peru */
	{ "PF", -17.680, -149.407 }, /* French Polynesia */
	{ "PG", -6.315, 143.956 },   /* Papua New Guinea */
	{ "PH", 12.880, 121.774 },   /* Philippines */
	{ "PK", 30.375, 69.345 },    /* Pakistan */
	{ "PL", 51.919, 19.145 },    /* Poland */
	{ "PM", 46.942, -56.271 },   /* Saint Pierre and Miquelon */
	{ "PN", -24.704, -127.439 }, /* Pitcairn */
	{ "PR", 18.221, -66.590 },   /* Puerto Rico */
	{ "PS", 31.952, 35.233 },    /* Palestine */
	{ "PT", 39.400, -8.224 },    /* Portugal */
	{ "PW", 7.515, 134.583 },    /* Palau */
	{ "PY", -23.443, -58.444 },  /* Paraguay */
	{ "QA", 25.355, 51.184 },    /* Qatar */
	{ "RE", -21.115, 55.536 },   /* Reunion */
	{ "RO", 45.943, 24.967 },    /* Romania */
	{ "RS", 44.017, 21.006 },    /* Serbia */
	{ "RU", 61.524, 105.319 },   /* Russia */
	{ "RW", -1.940, 29.874 },    /* Rwanda */
	{ "SA", 23.886, 45.079 },    /* Saudi Arabia */
	{ "SB", -9.646, 160.156 },   /* Solomon Islands */
	{ "SC", -4.680, 55.492 },    /* Seychelles */
	{ "SD", 12.863, 30.218 },    /* Sudan */
	{ "SE", 60.128, 18.644 },    /* Sweden */
	{ "SG", 1.352, 103.820 },    /* Singapore */
	{ "SH", -15.965, -5.708 },   /* Saint Helena, Ascension and Tristan da Cunha */
	{ "SI", 46.151, 14.995 },    /* Slovenia */
	{ "SJ", 77.554, 23.670 },    /* Svalbard and Jan Mayen */
	{ "SK", 48.669, 19.699 },    /* Slovakia */
	{ "SL", 8.461, -11.780 },    /* Sierra Leone */
	{ "SM", 43.942, 12.458 },    /* San Marino */
	{ "SN", 14.497, -14.452 },   /* Senegal */
	{ "SO", 5.152, 46.200 },     /* Somalia */
	{ "SR", 3.919, -56.028 },    /* Suriname */
	{ "SS", 7.863, 29.695 },     /* South Sudan */
	{ "ST", 0.186, 6.613 },      /* Sao Tome and Principe */
	{ "SV", 13.794, -88.897 },   /* El Salvador */
	{ "SX", 18.043, -63.057 },   /* Sint Maarten */
	{ "SY", 34.802, 38.997 },    /* Syria */
	{ "SZ", -26.523, 31.466 },   /* Eswatini */
	{ "TC", 21.694, -71.798 },   /* Turks and Caicos Islands */
	{ "TD", 15.454, 18.732 },    /* Chad */
	{ "TF", -49.280, 69.349 },   /* French Southern Territories */
	{ "TG", 8.620, 0.825 },      /* Togo */
	{ "TH", 15.870, 100.993 },   /* Thailand */
	{ "TJ", 38.861, 71.276 },    /* Tajikistan */
	{ "TK", -8.967, -171.856 },  /* Tokelau */
	{ "TL", -8.874, 125.728 },   /* Timor-Leste */
	{ "TM", 38.970, 59.556 },    /* Turkmenistan */
	{ "TN", 33.887, 9.537 },     /* Tunisia */
	{ "TO", -21.179, -175.198 }, /* Tonga */
	{ "TR", 38.964, 35.243 },    /* Turkey */
	{ "TT", 10.692, -61.223 },   /* Trinidad and Tobago */
	{ "TV", -7.110, 177.649 },   /* Tuvalu */
	{ "TW", 23.698, 120.961 },   /* Taiwan */
	{ "TZ", -6.369, 34.889 },    /* Tanzania */
	{ "UA", 48.379, 31.166 },    /* Ukraine */
	{ "UG", 1.373, 32.290 },     /* Uganda */
	{ "UM", 19.283, 166.647 },   /* United States Minor Outlying Islands */
	{ "US", 37.090, -95.713 },   /* United States */
	{ "UY", -32.523, -55.766 },  /* Uruguay */
	{ "UZ", 41.377, 64.585 },    /* Uzbekistan */
	{ "VA", 41.903, 12.453 },    /* Holy See */
	{ "VC", 12.984, -61.287 },   /* Saint Vincent and the Grenadines */
	{ "VE", 6.424, -66.590 },    /* Venezuela */
	{ "VG", 18.421, -64.640 },   /* British Virgin Islands */
	{ "VI", 18.336, -64.896 },   /* U.S. Virgin Islands */
	{ "VN", 14.058, 108.277 },   /* Viet Nam */
	{ "VU", -15.377, 166.959 },  /* Vanuatu */
	{ "WF", -13.769, -177.156 }, /* Wallis and Futuna */
	{ "WS", -13.759, -172.105 }, /* Samoa */
	{ "XK", 42.603, 20.903 },    /* Kosovo */
	{ "YE", 15.553, 48.516 },    /* Yemen */
	{ "YT", -12.828, 45.166 },   /* Mayotte */
	{ "ZA", -30.559, 22.938 },   /* South Africa */
	{ "ZM", -13.134, 27.849 },   /* Zambia */
	{ "ZW", -19.015, 29.155 },   /* Zimbabwe */
};

static int centroid_cmp(const void *key, const void *elem)
{
	const char *k = key;
	const struct centroid *c = elem;
	if (k[0] != c->cc[0])
		return (unsigned char)k[0] - (unsigned char)c->cc[0];
	return (unsigned char)k[1] - (unsigned char)c->cc[1];
}

int geo_country_centroid(const char *cc, double *lat, double *lon)
{
	char key[2];
	const struct centroid *c;

	if (!cc || !cc[0] || !cc[1] || cc[2])
		return GSLB_ENOENT;
	for (int i = 0; i < 2; i++) {
		char ch = cc[i];
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if (ch < 'A' || ch > 'Z')
			return GSLB_ENOENT;
		key[i] = ch;
	}
	c = bsearch(key, centroids, sizeof(centroids) / sizeof(centroids[0]), sizeof(centroids[0]),
		    centroid_cmp);
	if (!c)
		return GSLB_ENOENT;
	*lat = c->lat;
	*lon = c->lon;
	return 0;
}
