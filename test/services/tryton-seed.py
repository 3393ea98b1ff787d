#!/usr/bin/python3
"""Seed a Tryton 6.0 database for Invoice Courier's integration tests.

Usage: /usr/bin/python3 tryton-seed.py <trytond.conf> <dbname>

Runs with Debian's python3 (package tryton-proteus) and talks to the database directly (no server
needed). What it creates, all relative to today so that the connector's date rules have work to do:
  - currencies PLN (company) and EUR (rate 1 PLN = 0.232558 EUR, i.e. 4.3000 PLN per EUR),
  - countries PL and DE, languages pl/en (used on parties),
  - the company "Spike Sp. z o.o." with NIP 5260250274 (pl_nip identifier), an address and an e-mail,
  - fiscal year(s) covering the invoice dates, invoice sequences FV/<year>/ and credit notes KOR/<year>/,
  - a minimal chart, VAT 23 % and VAT 8 %, two products (a 23 % service, an 8 % book),
  - customers: ACME (two e-mails, one flagged for invoices), Brak Maila (no e-mail),
    Kowalski (one e-mail), Müller GmbH (DE, EU VAT, lang en, EUR invoices),
  - invoices (type out) in draft / validated / posted / paid / cancelled, PLN and EUR, dated over
    about three weeks, and a posted credit note correcting the first posted invoice,
  - a second user "ksiegowa" (accounting rights) for operator tests.
The last line printed is a JSON summary (ids and numbers) that the tests read.
"""
import datetime
import json
import os
import sys
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from proteus import Model, Wizard, config as pconfig

conf_file, dbname = sys.argv[1], sys.argv[2]
config = pconfig.set_trytond(database=dbname, config_file=conf_file)
today = datetime.date.today()

Currency = Model.get('currency.currency')
Party = Model.get('party.party')
User = Model.get('res.user')
Group = Model.get('res.group')
ModelData = Model.get('ir.model.data')
Lang = Model.get('ir.lang')
Country = Model.get('country.country')

# Optional: render account.invoice as PDF (needs soffice = libreoffice-writer-nogui). Must happen
# before posting: posted invoices cache their first rendering.
if os.environ.get('SEED_PDF') == '1':
    ActionReport = Model.get('ir.action.report')
    for a in ActionReport.find([('report_name', '=', 'account.invoice')]):
        a.extension = 'pdf'
        a.save()

# --- languages and countries (6.0 ships no countries; trytond_import_countries needs pycountry)
langs = {}
for code in ('pl', 'en'):
    langs[code], = Lang.find([('code', '=', code)])
pl = Country(name='Polska', code='PL', code3='POL', code_numeric='616')
pl.save()
de = Country(name='Niemcy', code='DE', code3='DEU', code_numeric='276')
de.save()


# --- currencies (6.0 ships none; trytond_import_currencies needs pycountry)
def currency(code, name, symbol, rate):
    c = Currency(name=name, code=code, symbol=symbol, rounding=Decimal('0.01'), digits=2)
    c.rates.new(date=today - relativedelta(days=60), rate=rate)
    c.save()
    return c


pln = currency('PLN', 'Polish Zloty', 'zł', Decimal('1'))
eur = currency('EUR', 'Euro', '€', Decimal('0.232558'))  # 4.3000 PLN per EUR


def address(party, street, postal_code, city, country):
    a = party.addresses[0] if party.addresses else party.addresses.new()
    a.street = street
    a.postal_code = postal_code
    a.city = city
    a.country = country
    return a


# --- company
cc = Wizard('company.company.config')
cc.execute('company')
company_party = Party(name='Spike Sp. z o.o.', lang=langs['pl'])
company_party.identifiers.new(type='pl_nip', code='5260250274')
address(company_party, 'ul. Marszałkowska 1', '00-001', 'Warszawa', pl)
company_party.contact_mechanisms.new(type='email', value='faktury@spike.example')
company_party.save()
cc.form.party = company_party
cc.form.currency = pln
cc.execute('add')
config._context = User.get_preferences(True, {})
Company = Model.get('company.company')
company, = Company.find()

# --- fiscal years with sequences + monthly periods
FiscalYear = Model.get('account.fiscalyear')
Sequence = Model.get('ir.sequence')
SequenceStrict = Model.get('ir.sequence.strict')
SequenceType = Model.get('ir.sequence.type')
st_move, = SequenceType.find([('name', '=', 'Account Move')], limit=1)
st_inv, = SequenceType.find([('name', '=', 'Invoice')], limit=1)
dates = [today - relativedelta(days=d) for d in (21, 17, 14, 10, 7, 5, 3, 1, 0)]
for year in sorted({d.year for d in dates}):
    start = datetime.date(year, 1, 1)
    fy = FiscalYear(name=str(year), company=company, start_date=start,
        end_date=datetime.date(year, 12, 31))
    move_seq = Sequence(name=str(year), sequence_type=st_move, company=company)
    move_seq.save()
    fy.post_move_sequence = move_seq
    inv_seq = SequenceStrict(name='FV/%s' % year, sequence_type=st_inv, company=company,
        prefix='FV/%s/' % year, padding=4)
    inv_seq.save()
    cn_seq = SequenceStrict(name='KOR/%s' % year, sequence_type=st_inv, company=company,
        prefix='KOR/%s/' % year, padding=4)
    cn_seq.save()
    seq, = fy.invoice_sequences
    seq.out_invoice_sequence = inv_seq
    seq.in_invoice_sequence = inv_seq
    seq.out_credit_note_sequence = cn_seq
    seq.in_credit_note_sequence = cn_seq
    fy.save()
    fy.click('create_period')

# --- chart of accounts from the "Minimal Account Chart" template
AccountTemplate = Model.get('account.account.template')
data, = ModelData.find([('module', '=', 'account'), ('fs_id', '=', 'account_template_root_en')], limit=1)
cw = Wizard('account.create_chart')
cw.execute('account')
cw.form.account_template = AccountTemplate(data.db_id)
cw.form.company = company
cw.execute('create_account')
Account = Model.get('account.account')
acc = {}
for kind in ['receivable', 'payable', 'revenue', 'expense']:
    acc[kind], = Account.find([('type.%s' % kind, '=', True), ('company', '=', company.id)], limit=1)
acc['tax'], = Account.find([('name', '=', 'Main Tax')], limit=1)
acc['cash'], = Account.find([('name', '=', 'Main Cash')], limit=1)
cw.form.account_receivable = acc['receivable']
cw.form.account_payable = acc['payable']
cw.execute('create_properties')

# --- VAT 23 % and 8 %
Tax = Model.get('account.tax')


def vat(percent):
    t = Tax(name='VAT %s%%' % percent, description='VAT %s%%' % percent, type='percentage',
        rate=Decimal(percent) / 100, invoice_account=acc['tax'], credit_note_account=acc['tax'])
    t.save()
    return t


vat23 = vat(23)
vat8 = vat(8)

# --- customers
acme = Party(name='ACME Customer S.A.', lang=langs['pl'])
acme.identifiers.new(type='pl_nip', code='8567346215')
address(acme, 'ul. Długa 5/7', '80-827', 'Gdańsk', pl)
acme.contact_mechanisms.new(type='email', value='office@acme.example')
acme.contact_mechanisms.new(type='email', value='billing@acme.example', invoice=True)
acme.contact_mechanisms.new(type='phone', value='+48 58 000 00 00')
acme.save()

nomail = Party(name='Brak Maila Sp. j.', lang=langs['pl'])
nomail.identifiers.new(type='pl_nip', code='7251801126')
address(nomail, 'ul. Piotrkowska 100', '90-001', 'Łódź', pl)
nomail.contact_mechanisms.new(type='phone', value='+48 42 000 00 00')
nomail.save()

kowalski = Party(name='Jan Kowalski', lang=langs['pl'])
address(kowalski, 'ul. Zielona 3', '30-001', 'Kraków', pl)
kowalski.contact_mechanisms.new(type='email', value='jan.kowalski@poczta.example')
kowalski.save()

muller = Party(name='Müller GmbH', lang=langs['en'])
muller.identifiers.new(type='eu_vat', code='DE136695976')
address(muller, 'Hauptstraße 12', '10115', 'Berlin', de)
muller.contact_mechanisms.new(type='email', value='buchhaltung@mueller.example')
muller.save()

# --- products
Category = Model.get('product.category')
Uom = Model.get('product.uom')
Template = Model.get('product.template')
unit, = Uom.find([('name', '=', 'Unit')])


def product(name, tax, price):
    cat = Category(name='Cat %s' % name, accounting=True,
        account_revenue=acc['revenue'], account_expense=acc['expense'])
    cat.customer_taxes.append(Tax(tax.id))
    cat.save()
    tpl = Template(name=name, default_uom=unit, type='service', list_price=Decimal(price),
        account_category=cat)
    tpl.save()
    p, = tpl.products
    return p


consulting = product('Consulting hour', vat23, '150')
book = product('Książka „Faktury w praktyce”', vat8, '49.90')

PaymentTerm = Model.get('account.invoice.payment_term')
# 30 days: posting an invoice whose payment date lies in the past raises a warning.
term = PaymentTerm(name='30 dni')
ln = term.lines.new(type='remainder')
ln.relativedeltas.new(days=30)
term.save()

# --- invoices
Invoice = Model.get('account.invoice')
summary = {'invoices': {}, 'parties': {}, 'company': {'id': company.id, 'party': company_party.id}}
for key, party in (('acme', acme), ('nomail', nomail), ('kowalski', kowalski), ('muller', muller)):
    summary['parties'][key] = party.id


def invoice(key, party, cur, when, state, lines, comment=None):
    inv = Invoice(type='out', party=party, payment_term=term, currency=cur, invoice_date=when,
        description='Seed %s' % key, reference='REF-%s' % key, comment=comment)
    for kind, qty, price, desc in lines:
        ln = inv.lines.new()
        if kind == 'account':
            ln.account = acc['revenue']
            ln.description = desc
        else:
            ln.product = kind
            if desc:
                ln.description = desc
        ln.quantity = qty
        ln.unit_price = Decimal(price)
    inv.save()
    if state == 'cancelled':
        inv.click('cancel')
    if state in ('validated', 'posted', 'paid'):
        inv.click('validate_invoice')
    if state in ('posted', 'paid'):
        inv.click('post')
    if state == 'paid':
        pay = Wizard('account.invoice.pay', [inv])
        pay.form.payment_method = method
        pay.form.amount = inv.total_amount
        pay.form.date = when
        pay.execute('choice')
        inv.reload()
    summary['invoices'][key] = {'id': inv.id, 'number': inv.number, 'state': inv.state,
        'total': str(inv.total_amount), 'currency': cur.code, 'date': when.isoformat()}
    return inv


Journal = Model.get('account.journal')
cash_journal, = Journal.find([('code', '=', 'CASH')])
Method = Model.get('account.invoice.payment.method')
method = Method(name='Przelew', journal=cash_journal, credit_account=acc['cash'],
    debit_account=acc['cash'])
method.save()

travel = ('account', 1, '50', 'Travel costs (no tax)')
posted = invoice('posted_pln', acme, pln, dates[0], 'posted',
    [(consulting, 10, '150', None), travel], comment='Thank you for your business.')
invoice('posted_mixed_vat', nomail, pln, dates[1], 'posted',
    [(consulting, 2, '150', 'Szkolenie z fakturowania'), (book, 3, '49.90', None)])
invoice('paid_pln', kowalski, pln, dates[2], 'paid', [(book, 1, '49.90', None)])
invoice('posted_eur', muller, eur, dates[3], 'posted', [(consulting, 4, '35', None)])
invoice('cancelled_pln', nomail, pln, dates[4], 'cancelled', [(consulting, 1, '150', None)])
invoice('validated_pln', acme, pln, dates[5], 'validated', [(consulting, 3, '150', None)])
invoice('draft_pln', acme, pln, dates[6], 'draft', [(consulting, 2, '150', None), travel])

# --- credit note for the first posted invoice (Tryton: an 'out' invoice with negative lines)
credit = Wizard('account.invoice.credit', [posted])
credit.form.with_refund = False
credit.form.invoice_date = dates[7]
credit.execute('credit')
cn, = Invoice.find([('type', '=', 'out'), ('total_amount', '<', 0)])
cn.description = 'Seed credit_note'
cn.save()
cn.click('validate_invoice')
cn.click('post')
summary['invoices']['credit_note'] = {'id': cn.id, 'number': cn.number, 'state': cn.state,
    'total': str(cn.total_amount), 'currency': 'PLN', 'date': dates[7].isoformat()}

# --- a second user with accounting rights (operator tests)
groups = Group.find([('name', 'in', ['Account', 'Account Administration', 'Party Administration'])])
ksiegowa = User(name='Anna Nowak', login='ksiegowa', password='ksiegowa-secret-1',
    email='anna.nowak@spike.example')
for g in groups:
    ksiegowa.groups.append(Group(g.id))
ksiegowa.companies.append(Company(company.id))
ksiegowa.company = Company(company.id)
ksiegowa.save()
summary['users'] = {'ksiegowa': ksiegowa.id}

print(json.dumps(summary))
