"""Capitals read as their countries. News writes "Beijing" for China's government and
"Moscow and Pyongyang" for the two states, so a question that names a capital is also
asking about the country, and an article may name either one (evals/README.md,
"Capitals").

Capitals whose name is the country's (Singapore, Mexico City), or a common word ("Male",
"Victoria"), or disputed, are left out: expanding them adds nothing or adds noise. The
Kremlin is the one seat of government in the table; no other is as constant a metonym.
"""

import re
from functools import lru_cache

from rag.text import content_terms, words

# capital | country | the country's adjective
CAPITALS = """
kabul|Afghanistan|Afghan
tirana|Albania|Albanian
algiers|Algeria|Algerian
luanda|Angola|Angolan
buenos aires|Argentina|Argentine
yerevan|Armenia|Armenian
canberra|Australia|Australian
vienna|Austria|Austrian
baku|Azerbaijan|Azerbaijani
manama|Bahrain|Bahraini
dhaka|Bangladesh|Bangladeshi
minsk|Belarus|Belarusian
brussels|Belgium|Belgian
porto novo|Benin|Beninese
thimphu|Bhutan|Bhutanese
la paz|Bolivia|Bolivian
sarajevo|Bosnia|Bosnian
gaborone|Botswana|Botswanan
brasilia|Brazil|Brazilian
brasília|Brazil|Brazilian
sofia|Bulgaria|Bulgarian
ouagadougou|Burkina Faso|Burkinabe
gitega|Burundi|Burundian
phnom penh|Cambodia|Cambodian
yaounde|Cameroon|Cameroonian
ottawa|Canada|Canadian
bangui|Central African Republic|Central African
n'djamena|Chad|Chadian
santiago|Chile|Chilean
beijing|China|Chinese
bogota|Colombia|Colombian
bogotá|Colombia|Colombian
kinshasa|Congo|Congolese
brazzaville|Congo|Congolese
zagreb|Croatia|Croatian
havana|Cuba|Cuban
nicosia|Cyprus|Cypriot
prague|Czech Republic|Czech
copenhagen|Denmark|Danish
santo domingo|Dominican Republic|Dominican
quito|Ecuador|Ecuadorian
cairo|Egypt|Egyptian
san salvador|El Salvador|Salvadoran
asmara|Eritrea|Eritrean
tallinn|Estonia|Estonian
addis ababa|Ethiopia|Ethiopian
suva|Fiji|Fijian
helsinki|Finland|Finnish
paris|France|French
libreville|Gabon|Gabonese
banjul|Gambia|Gambian
tbilisi|Georgia|Georgian
berlin|Germany|German
accra|Ghana|Ghanaian
athens|Greece|Greek
conakry|Guinea|Guinean
port-au-prince|Haiti|Haitian
tegucigalpa|Honduras|Honduran
budapest|Hungary|Hungarian
reykjavik|Iceland|Icelandic
new delhi|India|Indian
jakarta|Indonesia|Indonesian
tehran|Iran|Iranian
baghdad|Iraq|Iraqi
dublin|Ireland|Irish
rome|Italy|Italian
tokyo|Japan|Japanese
amman|Jordan|Jordanian
astana|Kazakhstan|Kazakh
nairobi|Kenya|Kenyan
pristina|Kosovo|Kosovar
bishkek|Kyrgyzstan|Kyrgyz
vientiane|Laos|Lao
riga|Latvia|Latvian
beirut|Lebanon|Lebanese
maseru|Lesotho|Basotho
monrovia|Liberia|Liberian
tripoli|Libya|Libyan
vilnius|Lithuania|Lithuanian
antananarivo|Madagascar|Malagasy
lilongwe|Malawi|Malawian
kuala lumpur|Malaysia|Malaysian
bamako|Mali|Malian
valletta|Malta|Maltese
nouakchott|Mauritania|Mauritanian
chisinau|Moldova|Moldovan
ulaanbaatar|Mongolia|Mongolian
podgorica|Montenegro|Montenegrin
rabat|Morocco|Moroccan
maputo|Mozambique|Mozambican
naypyidaw|Myanmar|Burmese
windhoek|Namibia|Namibian
kathmandu|Nepal|Nepali
amsterdam|Netherlands|Dutch
wellington|New Zealand|New Zealander
managua|Nicaragua|Nicaraguan
niamey|Niger|Nigerien
abuja|Nigeria|Nigerian
pyongyang|North Korea|North Korean
skopje|North Macedonia|Macedonian
oslo|Norway|Norwegian
muscat|Oman|Omani
islamabad|Pakistan|Pakistani
asuncion|Paraguay|Paraguayan
lima|Peru|Peruvian
manila|Philippines|Filipino
warsaw|Poland|Polish
lisbon|Portugal|Portuguese
doha|Qatar|Qatari
bucharest|Romania|Romanian
moscow|Russia|Russian
kremlin|Russia|Russian
kigali|Rwanda|Rwandan
riyadh|Saudi Arabia|Saudi
dakar|Senegal|Senegalese
belgrade|Serbia|Serbian
freetown|Sierra Leone|Sierra Leonean
bratislava|Slovakia|Slovak
ljubljana|Slovenia|Slovenian
mogadishu|Somalia|Somali
pretoria|South Africa|South African
seoul|South Korea|South Korean
juba|South Sudan|South Sudanese
madrid|Spain|Spanish
colombo|Sri Lanka|Sri Lankan
khartoum|Sudan|Sudanese
paramaribo|Suriname|Surinamese
stockholm|Sweden|Swedish
bern|Switzerland|Swiss
damascus|Syria|Syrian
taipei|Taiwan|Taiwanese
dushanbe|Tajikistan|Tajik
dodoma|Tanzania|Tanzanian
bangkok|Thailand|Thai
lome|Togo|Togolese
tunis|Tunisia|Tunisian
ankara|Turkey|Turkish
ashgabat|Turkmenistan|Turkmen
kampala|Uganda|Ugandan
kyiv|Ukraine|Ukrainian
kiev|Ukraine|Ukrainian
abu dhabi|United Arab Emirates|Emirati
london|Britain|British
washington|United States|American
montevideo|Uruguay|Uruguayan
tashkent|Uzbekistan|Uzbek
caracas|Venezuela|Venezuelan
hanoi|Vietnam|Vietnamese
sanaa|Yemen|Yemeni
lusaka|Zambia|Zambian
harare|Zimbabwe|Zimbabwean
"""


@lru_cache(maxsize=1)
def capitals() -> dict[str, dict[tuple[str, ...], tuple[str, str]]]:
    """The table by the first word of each capital's name, then by all of its words."""
    table: dict[str, dict[tuple[str, ...], tuple[str, str]]] = {}
    for line in CAPITALS.strip().splitlines():
        capital, country, adjective = line.split("|")
        name = tuple(words(capital))
        table.setdefault(name[0], {})[name] = (country, adjective)
    return table


@lru_cache(maxsize=1024)  # asked three times per question: its words, its vector, its terms
def countries_named(query: str) -> tuple[tuple[frozenset[str], str, str], ...]:
    """For each capital the query names ("Beijing", "Beijing's"): the query's content
    terms that name it, its country and the country's adjective."""
    tokens = words(query)
    bare = [t.removesuffix("'s") for t in tokens]
    found = []
    for i, token in enumerate(bare):
        for name, (country, adjective) in capitals().get(token, {}).items():
            if tuple(bare[i : i + len(name)]) == name:
                found.append(
                    (
                        frozenset(content_terms(" ".join(tokens[i : i + len(name)]))),
                        country,
                        adjective,
                    )
                )
    return tuple(found)


def alternatives(query: str) -> dict[str, list[frozenset[str]]]:
    """Each query term that is (part of) a capital's name, with the term sets that stand
    for the same country: a text holding every term of one of them names the country."""
    found: dict[str, list[frozenset[str]]] = {}
    for terms, country, adjective in countries_named(query):
        others = [frozenset(content_terms(country)), frozenset(content_terms(adjective))]
        for term in terms:
            found.setdefault(term, []).extend(others)
    return found


def expansion_words(query: str) -> list[str]:
    """The countries (and their adjectives) of the capitals the query names, as words."""
    return [
        w
        for _, country, adjective in countries_named(query)
        for w in words(f"{country} {adjective}")
    ]


@lru_cache(maxsize=1)
def capital_pattern() -> re.Pattern[str]:
    """Any capital of the table as a whole word (its words apart by a space or a hyphen)."""
    names = sorted(
        (name for by_first in capitals().values() for name in by_first), key=len, reverse=True
    )
    return re.compile(
        r"\b(?:" + "|".join(r"[\s-]+".join(map(re.escape, n)) for n in names) + r")\b",
        re.IGNORECASE,
    )


def as_countries(query: str) -> str | None:
    """The query with each capital it names replaced by the country; None if it names none."""

    def country(match: re.Match[str]) -> str:
        name = tuple(words(match.group()))
        return capitals()[name[0]][name][0]

    rewritten = capital_pattern().sub(country, query)
    return rewritten if rewritten != query else None
