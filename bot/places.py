"""Countries and states by the names news writes for them: what answers "which country" or "which state".

News names a country by its name ("Iran"), a short form ("the UK", "Britain") or, as often, by its
adjective ("Iranian lawmakers", "the Sudanese prime minister"). The adjective alone does not answer
"which country?": `country_of` turns it into the country's name, which the answer's opening line states."""

from __future__ import annotations

import re
from functools import lru_cache

# name | other names | adjectives (demonyms); one country per line
_COUNTRIES = """
Afghanistan||Afghan
Albania||Albanian
Algeria||Algerian
Andorra||Andorran
Angola||Angolan
Antigua and Barbuda||Antiguan
Argentina||Argentine, Argentinian
Armenia||Armenian
Australia||Australian
Austria||Austrian
Azerbaijan||Azerbaijani
Bahamas|The Bahamas|Bahamian
Bahrain||Bahraini
Bangladesh||Bangladeshi
Barbados||Barbadian
Belarus||Belarusian
Belgium||Belgian
Belize||Belizean
Benin||Beninese
Bhutan||Bhutanese
Bolivia||Bolivian
Bosnia and Herzegovina|Bosnia|Bosnian
Botswana||Botswanan
Brazil||Brazilian
Brunei||Bruneian
Bulgaria||Bulgarian
Burkina Faso||Burkinabe
Burundi||Burundian
Cambodia||Cambodian
Cameroon||Cameroonian
Canada||Canadian
Cape Verde|Cabo Verde|Cape Verdean
Central African Republic||
Chad||Chadian
Chile||Chilean
China|People's Republic of China|Chinese
Colombia||Colombian
Comoros||Comoran
Costa Rica||Costa Rican
Croatia||Croatian
Cuba||Cuban
Cyprus||Cypriot
Czech Republic|Czechia|Czech
Democratic Republic of the Congo|DRC, DR Congo|Congolese
Denmark||Danish
Djibouti||Djiboutian
Dominican Republic||Dominican
Ecuador||Ecuadorian
Egypt||Egyptian
El Salvador||Salvadoran
Equatorial Guinea||Equatoguinean
Eritrea||Eritrean
Estonia||Estonian
Eswatini|Swaziland|Swazi
Ethiopia||Ethiopian
Fiji||Fijian
Finland||Finnish
France||French
Gabon||Gabonese
Gambia|The Gambia|Gambian
Georgia||Georgian
Germany||German
Ghana||Ghanaian
Greece||Greek
Grenada||Grenadian
Guatemala||Guatemalan
Guinea||Guinean
Guinea-Bissau||
Guyana||Guyanese
Haiti||Haitian
Honduras||Honduran
Hungary||Hungarian
Iceland||Icelandic
India||Indian
Indonesia||Indonesian
Iran||Iranian
Iraq||Iraqi
Ireland|Republic of Ireland|Irish
Israel||Israeli
Italy||Italian
Ivory Coast|Côte d'Ivoire|Ivorian
Jamaica||Jamaican
Japan||Japanese
Jordan||Jordanian
Kazakhstan||Kazakh
Kenya||Kenyan
Kiribati||
Kosovo||Kosovar
Kuwait||Kuwaiti
Kyrgyzstan||Kyrgyz
Laos||Laotian
Latvia||Latvian
Lebanon||Lebanese
Lesotho||
Liberia||Liberian
Libya||Libyan
Liechtenstein||
Lithuania||Lithuanian
Luxembourg||Luxembourgish
Madagascar||Malagasy
Malawi||Malawian
Malaysia||Malaysian
Maldives||Maldivian
Mali||Malian
Malta||Maltese
Marshall Islands||Marshallese
Mauritania||Mauritanian
Mauritius||Mauritian
Mexico||Mexican
Micronesia||Micronesian
Moldova||Moldovan
Monaco||Monegasque
Mongolia||Mongolian
Montenegro||Montenegrin
Morocco||Moroccan
Mozambique||Mozambican
Myanmar|Burma|Burmese
Namibia||Namibian
Nauru||Nauruan
Nepal||Nepalese, Nepali
Netherlands|Holland, The Netherlands|Dutch
New Zealand||
Nicaragua||Nicaraguan
Niger||Nigerien
Nigeria||Nigerian
North Korea|DPRK|North Korean
North Macedonia|Macedonia|Macedonian
Norway||Norwegian
Oman||Omani
Pakistan||Pakistani
Palau||Palauan
Palestine|Palestinian territories|Palestinian
Panama||Panamanian
Papua New Guinea||
Paraguay||Paraguayan
Peru||Peruvian
Philippines|The Philippines|Filipino, Philippine
Poland||Polish
Portugal||Portuguese
Qatar||Qatari
Republic of the Congo|Congo-Brazzaville|
Romania||Romanian
Russia|Russian Federation|Russian
Rwanda||Rwandan
Saint Lucia||
Samoa||Samoan
San Marino||
Saudi Arabia||Saudi
Senegal||Senegalese
Serbia||Serbian
Seychelles||Seychellois
Sierra Leone||Sierra Leonean
Singapore||Singaporean
Slovakia||Slovak
Slovenia||Slovenian
Solomon Islands||
Somalia||Somali
South Africa||South African
South Korea|Republic of Korea|South Korean
South Sudan||South Sudanese
Spain||Spanish
Sri Lanka||Sri Lankan
Sudan||Sudanese
Suriname||Surinamese
Sweden||Swedish
Switzerland||Swiss
Syria||Syrian
Taiwan||Taiwanese
Tajikistan||Tajik
Tanzania||Tanzanian
Thailand||Thai
Timor-Leste|East Timor|Timorese
Togo||Togolese
Tonga||Tongan
Trinidad and Tobago||Trinidadian
Tunisia||Tunisian
Turkey|Türkiye|Turkish
Turkmenistan||Turkmen
Tuvalu||
Uganda||Ugandan
Ukraine||Ukrainian
United Arab Emirates|UAE, U.A.E.|Emirati
United Kingdom|UK, U.K., Britain, Great Britain|British
United States|US, U.S., USA, U.S.A., America, United States of America|American
Uruguay||Uruguayan
Uzbekistan||Uzbek
Vanuatu||
Vatican City|Vatican, Holy See|
Venezuela||Venezuelan
Vietnam|Viet Nam|Vietnamese
Yemen||Yemeni
Zambia||Zambian
Zimbabwe||Zimbabwean
"""

# States of the federations whose news asks "which state" most: the United States, Australia, India.
_STATES = """
Alabama, Alaska, Arizona, Arkansas, California, Colorado, Connecticut, Delaware, Florida, Georgia,
Hawaii, Idaho, Illinois, Indiana, Iowa, Kansas, Kentucky, Louisiana, Maine, Maryland, Massachusetts,
Michigan, Minnesota, Mississippi, Missouri, Montana, Nebraska, Nevada, New Hampshire, New Jersey,
New Mexico, New York, North Carolina, North Dakota, Ohio, Oklahoma, Oregon, Pennsylvania,
Rhode Island, South Carolina, South Dakota, Tennessee, Texas, Utah, Vermont, Virginia, Washington,
West Virginia, Wisconsin, Wyoming,
New South Wales, Queensland, South Australia, Tasmania, Victoria, Western Australia,
Andhra Pradesh, Arunachal Pradesh, Assam, Bihar, Chhattisgarh, Goa, Gujarat, Haryana, Himachal Pradesh,
Jharkhand, Karnataka, Kerala, Madhya Pradesh, Maharashtra, Manipur, Meghalaya, Mizoram, Nagaland,
Odisha, Punjab, Rajasthan, Sikkim, Tamil Nadu, Telangana, Tripura, Uttar Pradesh, Uttarakhand,
West Bengal
"""


@lru_cache(maxsize=1)
def _country_forms() -> tuple[dict[str, str], dict[str, str]]:
    """(every name and adjective → the country's name, the adjectives alone → the country's name)."""
    names: dict[str, str] = {}
    adjectives: dict[str, str] = {}
    for line in _COUNTRIES.strip().splitlines():
        name, others, adjective_list = line.split("|")
        for form in filter(None, (f.strip() for f in [name, *others.split(",")])):
            names[form] = name
        for form in filter(None, (f.strip() for f in adjective_list.split(","))):
            names[form] = adjectives[form] = name
    return names, adjectives


@lru_cache(maxsize=1)
def states() -> frozenset[str]:
    return frozenset(s.strip() for s in _STATES.replace("\n", " ").split(",") if s.strip())


def country_of(adjective: str) -> str | None:
    """The country an adjective stands for ("Iranian" → "Iran"); None for a name or anything else."""
    return _country_forms()[1].get(adjective)


_RUN = re.compile(r"(?<![\w.])[A-Z][\w.]*(?:\s+(?:(?:and|of|the)\s+)*[A-Z][\w.]*)*")  # capitalised words
_WORD = re.compile(r"\S+")
LONGEST = 6  # words in the longest form ("Democratic Republic of the Congo")


def find(sentence: str, kind: str) -> list[tuple[int, int]]:
    """Where the sentence names a country ("country": by name, short form or adjective) or a state
    ("state"), longest form first ("South Sudanese", not "Sudanese"; "Indiana" is not "India"). A
    dictionary lookup over the capitalised runs: one pattern of ~400 alternatives cost 40 µs a sentence."""
    forms = _country_forms()[0] if kind == "country" else states()
    found = []
    for run in _RUN.finditer(sentence):
        words = [(w.start() + run.start(), w.end() + run.start()) for w in _WORD.finditer(run.group())]
        i = 0
        while i < len(words):
            span = _longest_form(sentence, words, i, forms)
            if span:
                found.append(span)
                while i < len(words) and words[i][0] < span[1]:  # on past the words the form covers
                    i += 1
            else:
                i += 1
    return found


def _longest_form(
    sentence: str, words: list[tuple[int, int]], i: int, forms: dict[str, str] | frozenset[str]
) -> tuple[int, int] | None:
    for j in range(min(len(words), i + LONGEST), i, -1):
        start, end = words[i][0], words[j - 1][1]
        text = sentence[start:end]
        if text in forms:
            return start, end
        if text.endswith(".") and text[:-1] in forms:  # the sentence's full stop, not "U.S."
            return start, end - 1
    return None
