/** Static seed material: realistic Polish (and a few EU) customers, products and addresses. */

export type Profile = 'office' | 'it' | 'food' | 'construction' | 'hotel' | 'books' | 'training' | 'medical' | 'transport' | 'auto';

export interface CustomerSpec {
  name: string;
  city: string;
  zip: string;
  street: string;
  profile: Profile[];
  /** Mail address(es) as stored in res.partner.email; null = none. */
  email: string | null;
  phone?: string;
  /** An invoice-type child contact with its own e-mail. */
  invoiceContact?: { name: string | false; email: string };
  sending?: 'email' | 'manual' | false;
  country?: 'DE' | 'CZ' | 'FR';
  lang?: 'en_US';
}

export const CUSTOMERS: CustomerSpec[] = [
  {
    name: 'Kowalski Transport Sp. z o.o.',
    city: 'Warszawa',
    zip: '02-672',
    street: 'ul. Domaniewska 37',
    profile: ['transport', 'office'],
    email: 'faktury@kowalski-transport.example',
    phone: '+48 22 851 12 40',
    sending: 'email',
  },
  {
    name: 'Piekarnia Złoty Kłos s.c. Anna i Marek Wiśniewscy',
    city: 'Kraków',
    zip: '31-042',
    street: 'ul. Floriańska 14',
    profile: ['food'],
    email: 'biuro.piekarnia-zloty-klos.example',
  },
  {
    name: 'Zakład Stolarski Drewmax Jan Nowicki',
    city: 'Radom',
    zip: '26-600',
    street: 'ul. Żeromskiego 52',
    profile: ['construction', 'office'],
    email: null,
    phone: '+48 48 362 77 10',
  },
  {
    name: 'Biuro Rachunkowe Bilans Sp. z o.o.',
    city: 'Łódź',
    zip: '90-006',
    street: 'ul. Piotrkowska 104',
    profile: ['office', 'it'],
    email: 'ksiegowosc@bilans-lodz.example, szef@bilans-lodz.example',
    sending: 'email',
  },
  {
    name: 'Hurtownia Spożywcza Smakosz S.A.',
    city: 'Poznań',
    zip: '61-701',
    street: 'ul. Święty Marcin 29',
    profile: ['food', 'transport'],
    email: 'zakupy@smakosz.example',
    invoiceContact: { name: 'Dział Księgowości', email: 'faktury@smakosz.example' },
    sending: 'email',
  },
  {
    name: 'Przychodnia Zdrowie Sp. z o.o.',
    city: 'Gdańsk',
    zip: '80-831',
    street: 'ul. Długa 45',
    profile: ['medical', 'office'],
    email: 'rejestracja@przychodnia-zdrowie.example',
  },
  {
    name: 'Szkoła Językowa Lingua Marta Zielińska',
    city: 'Lublin',
    zip: '20-001',
    street: 'ul. Krakowskie Przedmieście 18',
    profile: ['training', 'books'],
    email: 'marta@lingua-lublin.example',
  },
  {
    name: 'Budpol Konstrukcje Sp. z o.o.',
    city: 'Wrocław',
    zip: '50-001',
    street: 'ul. Świdnicka 8',
    profile: ['construction'],
    email: 'biuro@budpol-konstrukcje.example',
    invoiceContact: { name: 'Katarzyna Lewandowska', email: 'k.lewandowska@budpol-konstrukcje.example' },
    sending: 'email',
  },
  {
    name: 'Hotel Pod Orłem Sp. z o.o.',
    city: 'Bydgoszcz',
    zip: '85-001',
    street: 'ul. Gdańska 14',
    profile: ['hotel', 'food'],
    email: 'recepcja@hotelpodorlem.example',
  },
  {
    name: 'Księgarnia Lektura Ewa Dąbrowska',
    city: 'Toruń',
    zip: '87-100',
    street: 'ul. Szeroka 22',
    profile: ['books'],
    email: 'lektura.torun@poczta.example',
  },
  {
    name: 'Ogrodnictwo Zielony Zakątek Tomasz Lewandowski',
    city: 'Skierniewice',
    zip: '96-100',
    street: 'ul. Mszczonowska 3',
    profile: ['food', 'transport'],
    email: null,
    sending: 'manual',
  },
  {
    name: 'Drukarnia Offsetowa Kolor-Druk Sp. j.',
    city: 'Katowice',
    zip: '40-001',
    street: 'ul. Mariacka 7',
    profile: ['office', 'it'],
    email: 'druk@kolor-druk.example',
  },
  {
    name: 'Apteka Pod Lipami Sp. z o.o.',
    city: 'Opole',
    zip: '45-001',
    street: 'ul. Krakowska 31',
    profile: ['medical', 'office'],
    email: 'apteka@podlipami.example',
    invoiceContact: { name: false, email: 'faktury@podlipami.example' },
  },
  {
    name: 'Auto-Serwis Mechanik Krzysztof Wójcik',
    city: 'Kielce',
    zip: '25-001',
    street: 'ul. Warszawska 120',
    profile: ['auto'],
    email: 'k.wojcik@autoserwis-mechanik.example',
  },
  {
    name: 'Meble Kamiński i Synowie Sp. z o.o.',
    city: 'Szczecin',
    zip: '70-001',
    street: 'al. Wojska Polskiego 64',
    profile: ['construction', 'transport'],
    email: 'zamowienia@meble-kaminski.example',
  },
  {
    name: 'Software House Kodex S.A.',
    city: 'Wrocław',
    zip: '50-001',
    street: 'pl. Grunwaldzki 23',
    profile: ['it'],
    email: 'ap@kodex.example',
    invoiceContact: { name: 'Accounts Payable', email: 'invoices@kodex.example' },
    sending: 'email',
  },
  {
    name: 'Agencja Reklamowa Pomysłowo Sp. z o.o.',
    city: 'Warszawa',
    zip: '00-514',
    street: 'ul. Marszałkowska 58',
    profile: ['it', 'office'],
    email: 'hello@pomyslowo.example',
  },
  {
    name: 'Gospodarstwo Rolne Jabłonka Stanisław Kaczmarek',
    city: 'Grójec',
    zip: '05-600',
    street: 'Jabłonka 12',
    profile: ['food', 'auto'],
    email: null,
    sending: 'manual',
  },
  {
    name: 'Restauracja Pod Wawelem Sp. z o.o.',
    city: 'Kraków',
    zip: '31-001',
    street: 'ul. Grodzka 40',
    profile: ['food', 'hotel'],
    email: 'restauracja@podwawelem.example',
  },
  {
    name: 'Elektro-Instal Paweł Mazur',
    city: 'Rzeszów',
    zip: '35-001',
    street: 'ul. 3 Maja 15',
    profile: ['construction', 'auto'],
    email: 'elektroinstal.mazur@poczta.example',
  },
  {
    name: 'Fundacja Nowe Horyzonty',
    city: 'Gdynia',
    zip: '81-301',
    street: 'ul. Świętojańska 9',
    profile: ['training', 'books'],
    email: 'fundacja@nowehoryzonty.example',
  },
  {
    name: 'Kancelaria Prawna Szymański i Wspólnicy Sp. k.',
    city: 'Poznań',
    zip: '61-814',
    street: 'ul. Półwiejska 2',
    profile: ['office', 'books'],
    email: 'sekretariat@kancelaria-szymanski.example; rozliczenia@kancelaria-szymanski.example',
  },
  {
    name: 'Przedsiębiorstwo Handlowe Żak Sp. z o.o.',
    city: 'Białystok',
    zip: '15-001',
    street: 'ul. Lipowa 33',
    profile: ['office', 'food', 'transport'],
    email: 'handel@ph-zak.example',
  },
  {
    name: 'Pracownia Architektoniczna Łuk Sp. z o.o.',
    city: 'Olsztyn',
    zip: '10-001',
    street: 'ul. Staromiejska 6',
    profile: ['it', 'construction'],
    email: 'pracownia@luk-architekci.example',
  },
  {
    name: 'Centrum Szkoleniowe Kompetencja Sp. z o.o.',
    city: 'Częstochowa',
    zip: '42-200',
    street: 'al. Najświętszej Maryi Panny 47',
    profile: ['training', 'hotel'],
    email: 'biuro@kompetencja.example',
  },
  { name: 'Stacja Paliw Orlik Grzegorz Pawlak', city: 'Zielona Góra', zip: '65-001', street: 'ul. Batorego 128', profile: ['auto', 'food'], email: null },
  {
    name: 'Browar Rzemieślniczy Chmielowy Sp. z o.o.',
    city: 'Gorzów Wielkopolski',
    zip: '66-400',
    street: 'ul. Sikorskiego 19',
    profile: ['food', 'transport'],
    email: 'browar@chmielowy.example',
    invoiceContact: { name: 'Biuro rachunkowe (faktury)', email: 'chmielowy@biuro-rachunkowe.example' },
  },
  {
    name: 'Sklep Zoologiczny Ćwierkacz Magdalena Król',
    city: 'Płock',
    zip: '09-400',
    street: 'ul. Tumska 11',
    profile: ['food', 'office'],
    email: 'cwierkacz.plock@poczta.example',
  },
  {
    name: 'Transport Międzynarodowy Trans-Łęg Sp. z o.o.',
    city: 'Łęczyca',
    zip: '99-100',
    street: 'ul. Ozorkowska 5',
    profile: ['transport', 'auto'],
    email: 'spedycja@trans-leg.example, faktury@trans-leg.example',
  },
  {
    name: 'Pralnia Przemysłowa Śnieżka Sp. z o.o.',
    city: 'Jelenia Góra',
    zip: '58-500',
    street: 'ul. Wolności 200',
    profile: ['office', 'auto'],
    email: 'pralnia@sniezka.example',
  },
  {
    name: 'Studio Fotograficzne Kadr Joanna Górska',
    city: 'Gliwice',
    zip: '44-100',
    street: 'ul. Zwycięstwa 21',
    profile: ['it', 'office'],
    email: 'kadr.studio@poczta.example',
  },
  {
    name: 'Spółdzielnia Mleczarska Łąkowa',
    city: 'Siedlce',
    zip: '08-110',
    street: 'ul. Brzeska 77',
    profile: ['food', 'transport'],
    email: 'sekretariat@sm-lakowa.example',
  },
  {
    name: 'Müller Maschinenbau GmbH',
    city: 'Berlin',
    zip: '10115',
    street: 'Invalidenstraße 112',
    profile: ['it', 'construction'],
    email: 'rechnungen@mueller-maschinenbau.example',
    country: 'DE',
    lang: 'en_US',
    sending: 'email',
  },
  {
    name: 'Schneider Logistik GmbH',
    city: 'Hamburg',
    zip: '20095',
    street: 'Mönckebergstraße 7',
    profile: ['transport', 'it'],
    email: 'buchhaltung@schneider-logistik.example',
    country: 'DE',
    lang: 'en_US',
    invoiceContact: { name: 'Kreditorenbuchhaltung', email: 'invoices@schneider-logistik.example' },
  },
  {
    name: 'Novák Stavby s.r.o.',
    city: 'Praha',
    zip: '110 00',
    street: 'Václavské náměstí 19',
    profile: ['construction'],
    email: 'fakturace@novak-stavby.example',
    country: 'CZ',
    lang: 'en_US',
  },
  { name: 'Svoboda Trade a.s.', city: 'Brno', zip: '602 00', street: 'Masarykova 31', profile: ['office', 'food'], email: null, country: 'CZ', lang: 'en_US' },
  {
    name: 'Dupont Emballages SARL',
    city: 'Lyon',
    zip: '69002',
    street: '12 Rue de la République',
    profile: ['office', 'transport'],
    email: 'comptabilite@dupont-emballages.example',
    country: 'FR',
    lang: 'en_US',
  },
];

export type TaxKey = '23' | '8' | '5' | '0' | 'zw';

export interface ProductSpec {
  code: string;
  name: string;
  /** Net unit price in grosze. */
  price: number;
  uom: string;
  tax: TaxKey;
  service: boolean;
  profile: Profile;
  /** How quantities look: integers in a range, or steps of a fraction. */
  qty: [number, number, number?];
}

export const PRODUCTS: ProductSpec[] = [
  { code: 'PAP-A4', name: 'Papier ksero A4 80 g/m² (ryza 500 ark.)', price: 2299, uom: 'szt.', tax: '23', service: false, profile: 'office', qty: [1, 50] },
  { code: 'TON-59A', name: 'Toner do drukarki laserowej, czarny', price: 28900, uom: 'szt.', tax: '23', service: false, profile: 'office', qty: [1, 6] },
  { code: 'KRZ-ERG', name: 'Krzesło biurowe ergonomiczne', price: 79900, uom: 'szt.', tax: '23', service: false, profile: 'office', qty: [1, 12] },
  { code: 'BIU-REG', name: 'Biurko z regulacją wysokości 160×80', price: 149900, uom: 'szt.', tax: '23', service: false, profile: 'office', qty: [1, 8] },
  { code: 'SEG-A4', name: 'Segregator A4/75 mm, niebieski', price: 1249, uom: 'szt.', tax: '23', service: false, profile: 'office', qty: [5, 100] },
  { code: 'LAP-14', name: 'Laptop biznesowy 14", 16 GB RAM, 512 GB SSD', price: 459900, uom: 'szt.', tax: '23', service: false, profile: 'it', qty: [1, 5] },
  { code: 'MON-27', name: 'Monitor 27" QHD', price: 119900, uom: 'szt.', tax: '23', service: false, profile: 'it', qty: [1, 10] },
  { code: 'KAB-HDMI', name: 'Kabel HDMI 2.1, 2 m', price: 3999, uom: 'szt.', tax: '23', service: false, profile: 'it', qty: [1, 30] },
  { code: 'WDR-H', name: 'Usługa wdrożeniowa', price: 25000, uom: 'godz.', tax: '23', service: true, profile: 'it', qty: [1, 80, 0.5] },
  { code: 'ABO-SRV', name: 'Abonament serwisowy', price: 99000, uom: 'mies.', tax: '23', service: true, profile: 'it', qty: [1, 3] },
  { code: 'LIC-12', name: 'Licencja oprogramowania (12 miesięcy)', price: 360000, uom: 'szt.', tax: '23', service: true, profile: 'it', qty: [1, 25] },
  { code: 'PRJ-GRF', name: 'Projekt graficzny identyfikacji wizualnej', price: 180000, uom: 'usł.', tax: '23', service: true, profile: 'it', qty: [1, 1] },
  { code: 'KAMP-ON', name: 'Kampania reklamowa online', price: 500000, uom: 'usł.', tax: '23', service: true, profile: 'office', qty: [1, 2] },
  { code: 'DRK-A5', name: 'Druk ulotek A5 (1000 szt.)', price: 45000, uom: 'szt.', tax: '23', service: false, profile: 'office', qty: [1, 10] },
  { code: 'TR-KRAJ', name: 'Transport krajowy', price: 450, uom: 'km', tax: '23', service: true, profile: 'transport', qty: [40, 900] },
  { code: 'TR-PAL', name: 'Przechowanie palety w magazynie', price: 1800, uom: 'szt.', tax: '23', service: true, profile: 'transport', qty: [5, 120] },
  { code: 'OLEJ-5W30', name: 'Olej silnikowy 5W-30, 5 l', price: 18900, uom: 'szt.', tax: '23', service: false, profile: 'auto', qty: [1, 20] },
  { code: 'NAPR', name: 'Naprawa serwisowa pojazdu', price: 35000, uom: 'usł.', tax: '23', service: true, profile: 'auto', qty: [1, 3] },
  { code: 'OPONY', name: 'Opony zimowe 205/55 R16 (komplet)', price: 159600, uom: 'szt.', tax: '23', service: false, profile: 'auto', qty: [1, 4] },
  { code: 'FARBA-10', name: 'Farba akrylowa biała, 10 l', price: 24900, uom: 'szt.', tax: '23', service: false, profile: 'construction', qty: [1, 40] },
  {
    code: 'REM-MIESZ',
    name: 'Roboty remontowe w lokalu mieszkalnym',
    price: 1200000,
    uom: 'usł.',
    tax: '8',
    service: true,
    profile: 'construction',
    qty: [1, 1],
  },
  { code: 'MONT-OKN', name: 'Montaż okien w budynku mieszkalnym', price: 85000, uom: 'szt.', tax: '8', service: true, profile: 'construction', qty: [1, 14] },
  { code: 'NOCLEG', name: 'Nocleg w pokoju dwuosobowym ze śniadaniem', price: 32000, uom: 'szt.', tax: '8', service: true, profile: 'hotel', qty: [1, 30] },
  { code: 'CATER', name: 'Usługa gastronomiczna – catering (osoba)', price: 8900, uom: 'szt.', tax: '8', service: true, profile: 'hotel', qty: [10, 150] },
  { code: 'CHLEB-Z', name: 'Chleb żytni na zakwasie 800 g', price: 899, uom: 'szt.', tax: '5', service: false, profile: 'food', qty: [10, 400] },
  { code: 'JABL', name: 'Jabłka deserowe, odmiana Ligol', price: 450, uom: 'kg', tax: '5', service: false, profile: 'food', qty: [10, 2000, 0.5] },
  { code: 'MLEKO', name: 'Mleko 3,2% UHT, 1 l', price: 399, uom: 'szt.', tax: '5', service: false, profile: 'food', qty: [12, 960] },
  { code: 'KSI-PP', name: 'Książka „Prawo podatkowe 2026”', price: 8900, uom: 'szt.', tax: '5', service: false, profile: 'books', qty: [1, 60] },
  { code: 'PODR-0', name: 'Podręcznik szkolny (druk)', price: 4500, uom: 'szt.', tax: '0', service: false, profile: 'books', qty: [10, 300] },
  {
    code: 'SZK-ZAW',
    name: 'Szkolenie zawodowe (kurs kwalifikacyjny)',
    price: 150000,
    uom: 'usł.',
    tax: 'zw',
    service: true,
    profile: 'training',
    qty: [1, 12],
  },
  { code: 'BAD-LEK', name: 'Badanie lekarskie medycyny pracy', price: 25000, uom: 'usł.', tax: 'zw', service: true, profile: 'medical', qty: [1, 40] },
];

export const EXEMPTION_BASIS: Record<string, string> = {
  training: 'art. 43 ust. 1 pkt 29 lit. c ustawy o VAT',
  medical: 'art. 43 ust. 1 pkt 18 ustawy o VAT',
};

export const UOMS = ['szt.', 'godz.', 'kg', 'usł.', 'mies.', 'km', 'l'];
